//! Builds the xasync Zig package: the `xasync` module (the typed wrapper of
//! the C ABI in ../include/xasync.h), its tests, and the benchmark.
//!
//!   zig build test                       builds the Rust library with cargo, runs the tests
//!   zig build test -Dlib=path/to/libxasync_ffi.a   links a library built elsewhere
//!   zig build bench -Doptimize=ReleaseFast         spawn + await: raw C calls vs the wrapper
const std = @import("std");

/// What the Rust static library needs from the system
/// (`rustc --print native-static-libs`).
pub const system_libs = [_][]const u8{ "gcc_s", "util", "rt", "pthread", "m", "dl", "c" };

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const given = b.option(std.Build.LazyPath, "lib", "libxasync_ffi.a to link (default: build it with cargo)");
    const cargo = if (given == null) cargoBuild(b, optimize) else null;
    const lib = given orelse cargoLibrary(b, optimize);
    const header = b.option(std.Build.LazyPath, "header", "xasync.h to translate (default: ../include/xasync.h)") orelse
        b.path("../include/xasync.h");

    // The C declarations come from the header itself, translated by the
    // build system (Zig 0.17 has no @cImport), so they cannot drift from it.
    const c = b.addTranslateC(.{ .root_source_file = header, .target = target, .optimize = optimize });
    const xasync = b.addModule("xasync", .{
        .root_source_file = b.path("src/xasync.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{.{ .name = "xasync_c", .module = c.createModule() }},
    });
    xasync.addObjectFile(lib);
    for (system_libs) |name| xasync.linkSystemLibrary(name, .{});

    const test_step = b.step("test", "Run the tests (the seed's scenarios in Zig)");
    const scenarios = importing(b, xasync, "tests/scenarios.zig");
    scenarios.link_libc = true;
    const tests = b.addTest(.{ .root_module = scenarios });
    if (cargo) |step| tests.step.dependOn(step);
    const run_tests = b.addRunArtifact(tests);
    run_tests.setEnvironmentVariable("XASYNC_WORKERS", "2");
    // Run them each time, not only when the binary changed: they test a
    // runtime, whose behaviour a cached pass says nothing about.
    run_tests.has_side_effects = true;
    test_step.dependOn(&run_tests.step);

    // The README's program: two coroutines, waited for.
    const two = b.addExecutable(.{ .name = "two", .root_module = importing(b, xasync, "examples/two.zig") });
    if (cargo) |step| two.step.dependOn(step);
    const run_two = b.addRunArtifact(two);
    run_two.expectStdErrEqual("100 200\n");
    run_two.has_side_effects = true;
    test_step.dependOn(&run_two.step);

    const bench_step = b.step("bench", "Spawn + await: the wrapper against the raw C calls (use -Doptimize=ReleaseFast)");
    const bench = b.addExecutable(.{ .name = "spawn_await", .root_module = importing(b, xasync, "bench/spawn_await.zig") });
    if (cargo) |step| bench.step.dependOn(step);
    const run_bench = b.addRunArtifact(bench);
    run_bench.has_side_effects = true;
    bench_step.dependOn(&run_bench.step);
    // The tests build it too (without running it), so that it keeps
    // compiling.
    test_step.dependOn(&bench.step);
}

/// A root module of `path` that imports the `xasync` module, for its
/// target and optimization mode.
fn importing(b: *std.Build, xasync: *std.Build.Module, path: []const u8) *std.Build.Module {
    return b.createModule(.{
        .root_source_file = b.path(path),
        .target = xasync.resolved_target,
        .optimize = xasync.optimize,
        .imports = &.{.{ .name = "xasync", .module = xasync }},
    });
}

/// The step that builds libxasync_ffi.a with cargo: a release build unless
/// `optimize` is Debug.
fn cargoBuild(b: *std.Build, optimize: std.builtin.Optimize) *std.Build.Step {
    const cargo = b.addSystemCommand(&.{ "cargo", "build", "--quiet", "-p", "xasync-ffi" });
    if (optimize != .debug) cargo.addArg("--release");
    cargo.setCwd(b.path(".."));
    // Cargo decides itself whether anything changed.
    cargo.has_side_effects = true;
    return &cargo.step;
}

/// Where `cargoBuild` puts the library: the workspace's target directory.
fn cargoLibrary(b: *std.Build, optimize: std.builtin.Optimize) std.Build.LazyPath {
    const release = optimize != .debug;
    const target_dir = b.graph.environ_map.get("CARGO_TARGET_DIR") orelse "target";
    const profile = if (release) "release" else "debug";
    const path = b.pathJoin(&.{ target_dir, profile, "libxasync_ffi.a" });
    return if (std.fs.path.isAbsolute(path)) b.graph.cwdRelativePath(path) else b.path(b.pathJoin(&.{ "..", path }));
}
