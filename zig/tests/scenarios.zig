//! The seed's scenarios, in Zig, through the typed wrapper: overlapping
//! sleeps, a counter chained to a printer over a channel, the event-loop
//! callback on a pipe, timers, and handles that are stale or forged.
const std = @import("std");
const xasync = @import("xasync");
const testing = std.testing;

fn nowMs() u64 {
    var t: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.MONOTONIC, &t);
    return @as(u64, @intCast(t.sec)) * 1000 + @as(u64, @intCast(t.nsec)) / 1_000_000;
}

fn runtime() !xasync.Runtime {
    return xasync.Runtime.init(.{ .workers = 2, .thread_name = "zig-test" });
}

/// The seed's `longTimeAction`: sleeps, then answers.
fn longTimeAction(ms: u64) u64 {
    xasync.sleep(ms) catch return 0;
    return ms + 1;
}

test "xasync(delay) then xawait: the sleeps overlap" {
    const rt = try runtime();
    defer rt.deinit();
    const start = nowMs();
    const a = try rt.go(longTimeAction, .{200});
    const b = try rt.go(longTimeAction, .{200});
    const c = try rt.go(longTimeAction, .{200});
    try testing.expectEqual(@as(u64, 201), try a.wait());
    try testing.expectEqual(@as(u64, 201), try b.wait());
    try testing.expectEqual(@as(u64, 201), try c.wait());
    const elapsed = nowMs() - start;
    // One after the other they would take 600 ms.
    try testing.expect(elapsed >= 200);
    try testing.expect(elapsed < 500);
}

test "the default runtime: go and wait without a runtime of one's own" {
    const h = try xasync.go(longTimeAction, .{1});
    try testing.expectEqual(@as(u64, 2), try h.wait());
}

/// The seed's counter: sends 1 to 5, then closes the channel.
fn counter(out: xasync.Channel(u32)) !void {
    var i: u32 = 1;
    while (i <= 5) : (i += 1) {
        try out.send(i);
        try xasync.yield();
    }
    try out.close();
}

/// The seed's printer: prints what arrives until the channel is closed.
fn printer(in: xasync.Channel(u32), line: *std.ArrayList(u8)) !u32 {
    var sum: u32 = 0;
    while (try in.next()) |n| {
        try line.print(testing.allocator, "{d} ", .{n});
        sum += n;
    }
    return sum;
}

test "a counter chained to a printer over a channel" {
    const rt = try runtime();
    defer rt.deinit();
    const ch = try xasync.Channel(u32).bounded(0);
    defer ch.deinit();
    var line: std.ArrayList(u8) = .empty;
    defer line.deinit(testing.allocator);
    const p = try rt.go(printer, .{ ch, &line });
    const c = try rt.go(counter, .{ch});
    try c.wait();
    try testing.expectEqual(@as(u32, 15), try p.wait());
    try testing.expectEqualStrings("1 2 3 4 5 ", line.items);
}

const Point = struct { x: f64, y: f64, name: [8]u8 };

test "channels of a type larger than a pointer box their values" {
    const ch = try xasync.Channel(Point).unbounded();
    try ch.send(.{ .x = 1.5, .y = -2, .name = "first\x00\x00\x00".* });
    try ch.send(.{ .x = 3, .y = 4, .name = "second\x00\x00".* });
    try testing.expectEqual(@as(usize, 2), try ch.len());
    const p = try ch.recv();
    try testing.expectEqual(@as(f64, 1.5), p.x);
    try testing.expectEqualStrings("first", std.mem.sliceTo(&p.name, 0));
    // The second stays in the channel: deinit frees its box.
    ch.deinit();
}

test "an empty channel: tryRecv is Empty, recvTimeout TimedOut" {
    const ch = try xasync.Channel(i8).bounded(1);
    defer ch.deinit();
    try testing.expectError(error.Empty, ch.tryRecv());
    try testing.expectError(error.TimedOut, ch.recvTimeout(10));
    try ch.trySend(-3);
    try testing.expectError(error.Full, ch.trySend(4));
    try testing.expectEqual(@as(i8, -3), try ch.recv());
}

const Failure = error{TooSmall};

fn checked(n: u32) Failure!u32 {
    if (n < 10) return error.TooSmall;
    return n * 2;
}

test "a function's own errors come back from wait" {
    const ok = try xasync.go(checked, .{21});
    try testing.expectEqual(@as(u32, 42), try ok.wait());
    const bad = try xasync.go(checked, .{1});
    try testing.expectError(error.TooSmall, bad.wait());
}

/// What the pipe's callback saw.
const PipeLog = struct {
    fd: c_int,
    got: xasync.Channel(u8),
};

fn onReadable(log: *PipeLog, fd: c_int, events: xasync.Events) void {
    std.debug.assert(fd == log.fd and events.readable);
    var buf: [16]u8 = undefined;
    // Edge-triggered: read until the pipe is empty.
    while (true) {
        const n = std.c.read(fd, &buf, buf.len);
        if (n <= 0) break;
        for (buf[0..@intCast(n)]) |byte| log.got.trySend(byte) catch unreachable;
    }
    // Waiting is refused on the event loop.
    std.debug.assert(xasync.sleep(1) == error.Busy);
}

test "the event-loop callback on a pipe" {
    const rt = try runtime();
    defer rt.deinit();
    var fds: [2]std.c.fd_t = undefined;
    try testing.expectEqual(@as(c_int, 0), std.c.pipe2(&fds, .{ .NONBLOCK = true, .CLOEXEC = true }));
    defer _ = std.c.close(fds[0]);
    defer _ = std.c.close(fds[1]);
    var log: PipeLog = .{ .fd = fds[0], .got = try xasync.Channel(u8).unbounded() };
    defer log.got.deinit();
    const watch = try rt.watch(fds[0], .{ .readable = true }, &log, onReadable);
    try testing.expectEqual(@as(isize, 2), std.c.write(fds[1], "hi", 2));
    try testing.expectEqual(@as(u8, 'h'), try log.got.recvTimeout(5000));
    try testing.expectEqual(@as(u8, 'i'), try log.got.recvTimeout(5000));
    try watch.unwatch();
    try testing.expectError(error.StaleHandle, watch.unwatch());
}

fn tick(count: *std.atomic.Value(u32)) void {
    _ = count.fetchAdd(1, .monotonic);
}

test "timers: one-shot and periodic callbacks" {
    const rt = try runtime();
    defer rt.deinit();
    var once = std.atomic.Value(u32).init(0);
    var ticks = std.atomic.Value(u32).init(0);
    const one = try rt.after(5, &once, tick);
    const periodic = try rt.every(1, 2, &ticks, tick);
    const deadline = nowMs() + 10_000;
    while ((once.load(.monotonic) < 1 or ticks.load(.monotonic) < 3) and nowMs() < deadline) try xasync.sleep(1);
    try periodic.cancel();
    try one.cancel();
    try testing.expectEqual(@as(u32, 1), once.load(.monotonic));
    const seen = ticks.load(.monotonic);
    try testing.expect(seen >= 3);
    try xasync.sleep(20);
    // Cancelled: no more calls.
    try testing.expectEqual(seen, ticks.load(.monotonic));
}

fn sleepForever() void {
    xasync.sleep(std.math.maxInt(u32)) catch |err| std.debug.assert(err == error.Cancelled);
}

test "bad input: stale and forged handles give errors, not crashes" {
    const rt = try runtime();
    const h = try rt.go(longTimeAction, .{1});
    const copy = h;
    try testing.expectEqual(@as(u64, 2), try h.wait());
    try testing.expectError(error.StaleHandle, copy.wait());
    try testing.expectError(error.StaleHandle, copy.cancel());
    try testing.expect(std.mem.indexOf(u8, xasync.lastError(), "xasync_task_cancel") != null);

    const forged: xasync.Task(u64) = .{ .handle = .{ .id = 0x1234_5678 }, .header = null };
    try testing.expectError(error.InvalidHandle, forged.wait());

    const ch = try xasync.Channel(u8).unbounded();
    ch.deinit();
    try testing.expectError(error.StaleHandle, ch.send(1));
    ch.deinit(); // a second deinit is reported, not fatal

    // A task still sleeping when its runtime goes is cancelled.
    const sleeper = try rt.go(sleepForever, .{});
    try rt.destroy();
    try testing.expectError(error.Cancelled, sleeper.wait());
    try testing.expectError(error.StaleHandle, rt.destroy());
    try testing.expectError(error.StaleHandle, rt.go(longTimeAction, .{1}));
}

/// The seed's counter and printer as fibers that resume each other.
const Pair = struct {
    base: xasync.Fiber,
    counter: xasync.Fiber = undefined,
    printer: xasync.Fiber = undefined,
    n: u32 = 0,
    line: [32]u8 = undefined,
    len: usize = 0,
};

fn countingFiber(me: xasync.Fiber, pair: *Pair) void {
    var i: u32 = 1;
    while (i <= 5) : (i += 1) {
        pair.n = i;
        pair.printer.resumeFrom(me) catch unreachable;
    }
    // Returning goes to the printer, which last switched here.
}

fn printingFiber(me: xasync.Fiber, pair: *Pair) void {
    while (true) {
        const text = std.fmt.bufPrint(pair.line[pair.len..], "{d} ", .{pair.n}) catch unreachable;
        pair.len += text.len;
        pair.counter.resumeFrom(me) catch unreachable;
        if (pair.counter.isFinished() catch unreachable) break;
    }
    // A fiber must not wait.
    std.debug.assert(xasync.sleep(1) == error.Busy);
}

test "symmetric switching: a counter and a printer fiber resume each other" {
    var pair: Pair = .{ .base = try xasync.Fiber.group() };
    pair.counter = try pair.base.spawn(countingFiber, .{&pair});
    pair.printer = try pair.base.spawn(printingFiber, .{&pair});
    try pair.counter.resumeFrom(pair.base);
    try testing.expectEqualStrings("1 2 3 4 5 ", pair.line[0..pair.len]);
    try testing.expect(try pair.printer.isFinished());
    try testing.expectError(error.InvalidArgument, pair.counter.resumeFrom(pair.base));
    try pair.counter.deinit();
    try pair.printer.deinit();
    try pair.base.deinit();
    try testing.expectError(error.StaleHandle, pair.base.deinit());
}

fn switchBack(me: xasync.Fiber, base: xasync.Fiber) void {
    base.resumeFrom(me) catch unreachable;
}

test "a fiber in the middle of its function cannot be released" {
    const base = try xasync.Fiber.group();
    const fiber = try base.spawn(switchBack, .{base});
    try fiber.resumeFrom(base);
    try testing.expectError(error.Busy, fiber.deinit());
    try fiber.resumeFrom(base); // it returns
    try fiber.deinit();
    const unstarted = try base.spawn(switchBack, .{base});
    try unstarted.deinit();
    try base.deinit();
}

fn quad(x: u64) [4]u64 {
    return .{ x, x + 1, x + 2, x + 3 };
}

fn bump(count: *std.atomic.Value(u32)) void {
    _ = count.fetchAdd(1, .monotonic);
}

fn bumpBy(count: *std.atomic.Value(u32), by: u32, delay: u64) void {
    xasync.sleep(delay) catch return;
    _ = count.fetchAdd(by, .monotonic);
}

test "tasks with arguments or results larger than a word, and detached ones" {
    const big = try xasync.go(quad, .{7});
    try testing.expectEqual([4]u64{ 7, 8, 9, 10 }, try big.wait());
    var count = std.atomic.Value(u32).init(0);
    // Both kinds of task: arguments in a word, and in a frame.
    const small = try xasync.go(bump, .{&count});
    try small.detach();
    const framed = try xasync.go(bumpBy, .{ &count, 2, 1 });
    try framed.detach();
    try testing.expectError(error.StaleHandle, framed.wait());
    const deadline = nowMs() + 10_000;
    while (count.load(.monotonic) < 3 and nowMs() < deadline) try xasync.sleep(1);
    try testing.expectEqual(@as(u32, 3), count.load(.monotonic));
}
