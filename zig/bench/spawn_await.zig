//! The wrapper's cost: start an empty coroutine and wait for it through
//! `xasync.go` + `Task.wait` against the raw C calls (`xasync_spawn` +
//! `xasync_await`), interleaved in the same run (the order alternating),
//! from a coroutine on a runtime with one worker. Prints the medians of
//! 51 samples, and the median of the ratios of the two measurements of each
//! sample (taken back to back, so that a load that comes and goes on a
//! shared machine mostly cancels out).
//!
//!   zig build bench -Doptimize=ReleaseFast
const std = @import("std");
const xasync = @import("xasync");
const c = xasync.c;

const samples = 51;
const iterations = 20_000;

fn nowNs() u64 {
    var t: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.MONOTONIC, &t);
    return @as(u64, @intCast(t.sec)) * 1_000_000_000 + @as(u64, @intCast(t.nsec));
}

/// The raw C function: returns its argument.
fn identity(arg: ?*anyopaque) callconv(.c) ?*anyopaque {
    return arg;
}

/// The typed function: returns its argument.
fn same(i: u64) u64 {
    return i;
}

fn raw(n: u64) void {
    var i: u64 = 0;
    while (i < n) : (i += 1) {
        var task: c.xasync_task = undefined;
        var out: ?*anyopaque = null;
        if (c.xasync_spawn(.{ .id = 0 }, identity, @ptrFromInt(i), &task) != c.XASYNC_OK) unreachable;
        if (c.xasync_await(task, &out) != c.XASYNC_OK) unreachable;
        std.mem.doNotOptimizeAway(out);
    }
}

fn wrapped(n: u64) void {
    var i: u64 = 0;
    while (i < n) : (i += 1) {
        const task = xasync.go(same, .{i}) catch unreachable;
        std.mem.doNotOptimizeAway(task.wait() catch unreachable);
    }
}

/// Nanoseconds per spawn + await of `n` operations of `body`.
fn time(body: fn (u64) void, n: u64) f64 {
    const start = nowNs();
    body(n);
    return @as(f64, @floatFromInt(nowNs() - start)) / @as(f64, @floatFromInt(n));
}

fn median(values: *[samples]f64) f64 {
    std.mem.sort(f64, values, {}, std.sort.asc(f64));
    return values[samples / 2];
}

fn driver() void {
    var c_ns: [samples]f64 = undefined;
    var zig_ns: [samples]f64 = undefined;
    raw(iterations / 10); // warm up: stacks, tables, caches
    wrapped(iterations / 10);
    for (0..samples) |s| {
        if (s % 2 == 0) {
            c_ns[s] = time(raw, iterations);
            zig_ns[s] = time(wrapped, iterations);
        } else {
            zig_ns[s] = time(wrapped, iterations);
            c_ns[s] = time(raw, iterations);
        }
    }
    var ratios: [samples]f64 = undefined;
    for (&ratios, zig_ns, c_ns) |*r, z, raw_ns| r.* = z / raw_ns;
    const ratio = median(&ratios);
    const c_median = median(&c_ns);
    const zig_median = median(&zig_ns);
    std.debug.print(
        \\spawn + await of an empty coroutine, from a coroutine, 1 worker (median of {d} x {d})
        \\  C ABI: xasync_spawn + xasync_await  {d:>8.1} ns/op
        \\  Zig: xasync.go + Task.wait          {d:>8.1} ns/op
        \\  Zig / C = {d:.3} (median of the per-sample ratios)
        \\
    , .{ samples, iterations, c_median, zig_median, ratio });
}

pub fn main() !void {
    const rt = try xasync.Runtime.init(.{ .workers = 1 });
    defer rt.deinit();
    const t = try rt.go(driver, .{});
    try t.wait();
}
