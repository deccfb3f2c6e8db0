const std = @import("std");
const xasync = @import("xasync");

fn delay(ms: u64) u64 {
    xasync.sleep(ms) catch return 0; // suspends this coroutine, not the thread
    return ms;
}

pub fn main() !void {
    const rt = try xasync.Runtime.init(.{});
    defer rt.deinit();
    const a = try rt.go(delay, .{100}); // both start now
    const b = try rt.go(delay, .{200});
    std.debug.print("{d} {d}\n", .{ try a.wait(), try b.wait() }); // after 200 ms
}
