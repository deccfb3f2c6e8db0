//! xasync from Zig: plain functions run as stackful coroutines.
//!
//! ```zig
//! const xasync = @import("xasync");
//!
//! fn longTimeAction(ms: u64) u64 {
//!     xasync.sleep(ms) catch {};
//!     return ms * 2;
//! }
//!
//! pub fn main() !void {
//!     const rt = try xasync.Runtime.init(.{});
//!     defer rt.deinit();
//!     const h = try rt.go(longTimeAction, .{50});
//!     const v: u64 = try h.wait();
//!     _ = v;
//! }
//! ```
//!
//! This is a thin, typed layer over the C ABI (`include/xasync.h`, whose
//! rules apply): handles are the library's generation-checked ids, so a
//! stale or forged one gives `error.StaleHandle` or `error.InvalidHandle`
//! rather than a crash; status codes become the errors of `Error`; a task's
//! arguments and result, a channel's items and a callback's context keep
//! their Zig types.
const std = @import("std");

/// The C declarations, translated from `include/xasync.h` by the build.
pub const c = @import("xasync_c");

/// What the library reports, one error per `XASYNC_ERR_*` status (see the
/// header for when each happens), and `OutOfMemory` for the wrapper's own
/// allocations. `lastError()` tells more.
pub const Error = error{
    NullPointer,
    InvalidArgument,
    InvalidHandle,
    StaleHandle,
    Busy,
    Closed,
    Full,
    Empty,
    TimedOut,
    Cancelled,
    System,
    TooMany,
    Panic,
    Deadlock,
    /// A task's function reported a failure with `xasync_task_fail` (only
    /// functions written against the C ABI do; this wrapper's never).
    Failed,
    /// A status this wrapper does not know (a newer library).
    Unknown,
    OutOfMemory,
};

/// The error of a status code, or nothing for `XASYNC_OK`.
pub fn check(status: c.xasync_status) Error!void {
    return switch (status) {
        c.XASYNC_OK => {},
        c.XASYNC_ERR_NULL_POINTER => error.NullPointer,
        c.XASYNC_ERR_INVALID_ARGUMENT => error.InvalidArgument,
        c.XASYNC_ERR_INVALID_HANDLE => error.InvalidHandle,
        c.XASYNC_ERR_STALE_HANDLE => error.StaleHandle,
        c.XASYNC_ERR_BUSY => error.Busy,
        c.XASYNC_ERR_CLOSED => error.Closed,
        c.XASYNC_ERR_FULL => error.Full,
        c.XASYNC_ERR_EMPTY => error.Empty,
        c.XASYNC_ERR_TIMED_OUT => error.TimedOut,
        c.XASYNC_ERR_CANCELLED => error.Cancelled,
        c.XASYNC_ERR_SYSTEM => error.System,
        c.XASYNC_ERR_TOO_MANY => error.TooMany,
        c.XASYNC_ERR_PANIC => error.Panic,
        c.XASYNC_ERR_DEADLOCK => error.Deadlock,
        c.XASYNC_ERR_FAILED => error.Failed,
        else => error.Unknown,
    };
}

/// The message of the last error on the calling thread, naming the C
/// function that failed. Read it before the next waiting call.
pub fn lastError() [:0]const u8 {
    return std.mem.span(c.xasync_last_error());
}

/// Where the wrapper keeps a task's arguments and result, and the boxed
/// values of channels of large types.
const allocator = std.heap.c_allocator;

/// Waits `ms` milliseconds: suspends a coroutine (its worker runs others),
/// blocks a plain thread. Fails only with `error.Cancelled`.
pub fn sleep(ms: u64) Error!void {
    return check(c.xasync_sleep_ms(ms));
}

/// Lets the other coroutines of the worker run, then continues. Fails only
/// with `error.Cancelled`.
pub fn yield() Error!void {
    return check(c.xasync_yield());
}

/// A set of worker threads running coroutines and timers.
pub const Runtime = struct {
    handle: c.xasync_runtime,

    /// The runtime of the calling coroutine or callback, else the default
    /// runtime (started on first use, never destroyed: do not deinit it).
    pub const current: Runtime = .{ .handle = .{ .id = 0 } };

    pub const Options = struct {
        /// Worker threads; 0: one per CPU.
        workers: usize = 0,
        /// Usable bytes of each coroutine's stack; 0: 64 KiB.
        stack_size: usize = 0,
        /// Name of the worker threads; null: "xasync-worker".
        thread_name: ?[*:0]const u8 = null,
    };

    /// Starts a runtime. Release it with `deinit`.
    pub fn init(options: Options) Error!Runtime {
        var config: c.xasync_runtime_config = undefined;
        try check(c.xasync_runtime_config_init(&config));
        config.workers = options.workers;
        config.stack_size = options.stack_size;
        config.thread_name = options.thread_name;
        var rt: Runtime = undefined;
        try check(c.xasync_runtime_create(&config, &rt.handle));
        return rt;
    }

    /// Cancels the runtime's unfinished tasks and timers, waits for them to
    /// end and joins its threads (`destroy`, for `defer`). Its errors (a
    /// second deinit, a deinit from one of its own coroutines) change
    /// nothing and are only recorded for `lastError`.
    pub fn deinit(self: Runtime) void {
        self.destroy() catch {};
    }

    /// `deinit`, reporting its errors: `error.StaleHandle` when destroyed
    /// already, `error.Busy` from one of the runtime's own coroutines.
    pub fn destroy(self: Runtime) Error!void {
        return check(c.xasync_runtime_destroy(self.handle));
    }

    /// Starts `function(args...)` as a coroutine on this runtime and
    /// returns its typed handle: `wait()` gives what `function` returns.
    pub fn go(self: Runtime, comptime function: anytype, args: std.meta.ArgsTuple(@TypeOf(function))) Error!Task(ReturnType(function)) {
        const T = ReturnType(function);
        const Args = std.meta.ArgsTuple(@TypeOf(function));
        var handle: c.xasync_task = undefined;
        if (comptime fitsWord(Args) and fitsWord(T)) {
            // Arguments and result travel in the C `void *`s: no frame.
            const Entry = struct {
                fn run(arg: ?*anyopaque) callconv(.c) ?*anyopaque {
                    return toWord(@call(.auto, function, fromWord(Args, arg)));
                }
            };
            try check(c.xasync_spawn(self.handle, Entry.run, toWord(args), &handle));
            return .{ .handle = handle, .header = null };
        }
        // The task's header (result and state), with the arguments after it.
        const Frame = struct {
            header: Task(T).Header,
            args: Args,

            fn run(arg: ?*anyopaque) callconv(.c) ?*anyopaque {
                const frame: *@This() = @ptrCast(@alignCast(arg));
                frame.header.result = @call(.auto, function, frame.args);
                frame.header.finish();
                return null;
            }

            fn free(header: *Task(T).Header) void {
                allocator.destroy(@as(*@This(), @fieldParentPtr("header", header)));
            }
        };
        const frame = try allocator.create(Frame);
        frame.* = .{ .header = .{ .free = Frame.free }, .args = args };
        check(c.xasync_spawn(self.handle, Frame.run, frame, &handle)) catch |err| {
            allocator.destroy(frame);
            return err;
        };
        return .{ .handle = handle, .header = &frame.header };
    }

    /// Calls `callback(context)` once, `delay_ms` milliseconds from now, in
    /// a coroutine of this runtime (it may wait). `context` is a pointer
    /// that must stay valid until the timer is cancelled.
    pub fn after(self: Runtime, delay_ms: u64, context: anytype, comptime callback: fn (@TypeOf(context)) void) Error!Timer {
        var timer: Timer = undefined;
        try check(c.xasync_timer_after(self.handle, delay_ms, Callback(@TypeOf(context), callback).call, toOpaque(context), &timer.handle));
        return timer;
    }

    /// Calls `callback(context)` every `period_ms` milliseconds, the first
    /// time `delay_ms` from now, until the timer is cancelled.
    pub fn every(self: Runtime, delay_ms: u64, period_ms: u64, context: anytype, comptime callback: fn (@TypeOf(context)) void) Error!Timer {
        var timer: Timer = undefined;
        try check(c.xasync_timer_every(self.handle, delay_ms, period_ms, Callback(@TypeOf(context), callback).call, toOpaque(context), &timer.handle));
        return timer;
    }

    /// Calls `callback(context, fd, events)` on the event loop each time
    /// `fd` becomes ready for `interest` (edge-triggered: make `fd`
    /// non-blocking and consume what is there). The callback must not
    /// wait (waiting there fails with `error.Busy`); `fd` and `context`
    /// must stay valid until the watch is removed.
    pub fn watch(self: Runtime, fd: c_int, interest: Events, context: anytype, comptime callback: fn (@TypeOf(context), c_int, Events) void) Error!Watch {
        const Context = @TypeOf(context);
        const Entry = struct {
            fn call(descriptor: c_int, events: u32, user_data: ?*anyopaque) callconv(.c) void {
                callback(fromOpaque(Context, user_data), descriptor, @bitCast(events));
            }
        };
        var w: Watch = undefined;
        try check(c.xasync_fd_watch(self.handle, fd, @bitCast(interest), Entry.call, toOpaque(context), &w.handle));
        return w;
    }
};

/// Starts `function(args...)` as a coroutine on the caller's runtime, else
/// the default one (the seed's `xasync(f)`).
pub fn go(comptime function: anytype, args: std.meta.ArgsTuple(@TypeOf(function))) Error!Task(ReturnType(function)) {
    return Runtime.current.go(function, args);
}

/// What `function` returns.
fn ReturnType(comptime function: anytype) type {
    return @typeInfo(@TypeOf(function)).@"fn".return_type.?;
}

/// What waiting for a task that returns `T` gives: `T`, or an error of
/// `Error` or, if `T` is an error union, of its own error set.
pub fn WaitResult(comptime T: type) type {
    return switch (@typeInfo(T)) {
        .error_union => |u| (Error || u.error_set)!u.payload,
        else => Error!T,
    };
}

/// A running coroutine that returns a `T`. Release it exactly once: by
/// `wait` (or `detach`). Copies name the same task: a second `wait` gives
/// `error.StaleHandle`.
pub fn Task(comptime T: type) type {
    return struct {
        const Self = @This();

        handle: c.xasync_task,
        /// The task's frame; null when the arguments and the result travel
        /// in the C `void *`s (they fit in a word).
        header: ?*Header,

        /// The part of the task's frame (see `Runtime.go`) that the handle
        /// knows: the result, and who frees the frame.
        pub const Header = struct {
            result: T = undefined,
            state: std.atomic.Value(State) = .init(.running),
            /// Frees the whole frame (arguments included).
            free: *const fn (*Header) void,

            /// The coroutine returned: frees the frame if the task was
            /// detached (else `wait` does).
            fn finish(header: *Header) void {
                if (header.state.swap(.finished, .acq_rel) == .detached) header.free(header);
            }
        };

        const State = enum(u8) { running, finished, detached };

        /// Waits for the coroutine (suspends a coroutine, blocks a thread)
        /// and returns its result.
        pub fn wait(self: Self) WaitResult(T) {
            var word: ?*anyopaque = null;
            check(c.xasync_await(self.handle, &word)) catch |err| {
                if (self.header) |header| {
                    if (self.released(err)) header.free(header);
                }
                return err;
            };
            const header = self.header orelse {
                // Only tasks whose result fits in a word have no frame.
                if (comptime fitsWord(T)) return fromWord(T, word);
                unreachable;
            };
            const result = header.result;
            header.free(header);
            return result;
        }

        /// Whether the failed await that gave `err` released the handle
        /// (the coroutine has then ended, and the frame is the caller's).
        fn released(self: Self, err: Error) bool {
            var finished: bool = false;
            return switch (err) {
                error.StaleHandle, error.InvalidHandle, error.Deadlock => false,
                // Also what a caller that was cancelled before the await
                // gets; its handle stays valid.
                error.Cancelled => check(c.xasync_task_is_finished(self.handle, &finished)) == error.StaleHandle,
                else => true,
            };
        }

        /// Cancels the coroutine: suspended in a waiting call, it gets
        /// `error.Cancelled` there and should return. The handle stays valid.
        pub fn cancel(self: Self) Error!void {
            return check(c.xasync_task_cancel(self.handle));
        }

        /// Whether the coroutine has finished: `wait` would not wait.
        pub fn isFinished(self: Self) Error!bool {
            var finished: bool = false;
            try check(c.xasync_task_is_finished(self.handle, &finished));
            return finished;
        }

        /// Lets the coroutine run on with nobody waiting for it; its result
        /// is dropped. (A task cancelled before it started never frees its
        /// arguments: the coroutine that would have done it never runs.)
        pub fn detach(self: Self) Error!void {
            try check(c.xasync_task_detach(self.handle));
            const header = self.header orelse return;
            if (header.state.swap(.detached, .acq_rel) == .finished) header.free(header);
        }
    };
}

/// A multi-producer, multi-consumer channel of `T`s, usable from any
/// thread or coroutine. Values of at most a pointer's size travel in the
/// C channel's `void *` itself; larger ones are boxed on the heap.
pub fn Channel(comptime T: type) type {
    return struct {
        const Self = @This();

        handle: c.xasync_channel,

        /// Whether values are boxed: larger than the `void *` they travel in.
        const boxed = !fitsWord(T);

        /// A channel holding at most `capacity` values (sends wait while it
        /// is full); 0: a rendezvous channel.
        pub fn bounded(capacity: usize) Error!Self {
            var ch: Self = undefined;
            try check(c.xasync_channel_bounded(capacity, &ch.handle));
            return ch;
        }

        /// A channel of unlimited capacity (sends never wait).
        pub fn unbounded() Error!Self {
            var ch: Self = undefined;
            try check(c.xasync_channel_unbounded(&ch.handle));
            return ch;
        }

        /// Closes and releases the channel, freeing the boxed values left
        /// in it. Its errors (a second deinit) change nothing.
        pub fn deinit(self: Self) void {
            if (boxed) {
                _ = c.xasync_channel_close(self.handle);
                while (self.tryRecv()) |value| {
                    _ = value;
                } else |_| {}
            }
            _ = c.xasync_channel_destroy(self.handle);
        }

        /// Sends `value`, waiting while the channel is full.
        pub fn send(self: Self, value: T) Error!void {
            const item = try encode(value);
            errdefer discard(item);
            try check(c.xasync_channel_send(self.handle, item));
        }

        /// `send`, giving up after `timeout_ms` with `error.TimedOut`.
        pub fn sendTimeout(self: Self, value: T, timeout_ms: u64) Error!void {
            const item = try encode(value);
            errdefer discard(item);
            try check(c.xasync_channel_send_timeout(self.handle, item, timeout_ms));
        }

        /// Sends `value` if that is possible without waiting, else fails
        /// with `error.Full`. Safe in an fd callback.
        pub fn trySend(self: Self, value: T) Error!void {
            const item = try encode(value);
            errdefer discard(item);
            try check(c.xasync_channel_try_send(self.handle, item));
        }

        /// Receives the next value, waiting while the channel is empty;
        /// `error.Closed` once it is closed and drained.
        pub fn recv(self: Self) Error!T {
            var item: ?*anyopaque = null;
            try check(c.xasync_channel_recv(self.handle, &item));
            return decode(item);
        }

        /// `recv`, giving up after `timeout_ms` with `error.TimedOut`.
        pub fn recvTimeout(self: Self, timeout_ms: u64) Error!T {
            var item: ?*anyopaque = null;
            try check(c.xasync_channel_recv_timeout(self.handle, timeout_ms, &item));
            return decode(item);
        }

        /// Receives a value if one is there, else fails with `error.Empty`.
        pub fn tryRecv(self: Self) Error!T {
            var item: ?*anyopaque = null;
            try check(c.xasync_channel_try_recv(self.handle, &item));
            return decode(item);
        }

        /// The next value, or null once the channel is closed and drained:
        /// `while (try ch.next()) |v| ...`.
        pub fn next(self: Self) Error!?T {
            return self.recv() catch |err| switch (err) {
                error.Closed => null,
                else => err,
            };
        }

        /// How many values the channel holds.
        pub fn len(self: Self) Error!usize {
            var n: usize = 0;
            try check(c.xasync_channel_len(self.handle, &n));
            return n;
        }

        /// Closes the channel for sending; receivers get what is left, then
        /// `error.Closed`.
        pub fn close(self: Self) Error!void {
            return check(c.xasync_channel_close(self.handle));
        }

        fn encode(value: T) Error!?*anyopaque {
            if (boxed) {
                const box = try allocator.create(T);
                box.* = value;
                return box;
            }
            return toWord(value);
        }

        fn decode(item: ?*anyopaque) T {
            if (boxed) {
                const box: *T = @ptrCast(@alignCast(item));
                defer allocator.destroy(box);
                return box.*;
            }
            return fromWord(T, item);
        }

        /// Frees an item that was not sent.
        fn discard(item: ?*anyopaque) void {
            if (boxed) allocator.destroy(@as(*T, @ptrCast(@alignCast(item))));
        }
    };
}

/// Whether a `T` fits in a C `void *`, to travel in it.
fn fitsWord(comptime T: type) bool {
    return @sizeOf(T) <= @sizeOf(usize);
}

/// A value that fits in a word, as a C `void *`.
fn toWord(value: anytype) ?*anyopaque {
    var word: usize = 0;
    @memcpy(std.mem.asBytes(&word)[0..@sizeOf(@TypeOf(value))], std.mem.asBytes(&value));
    return @ptrFromInt(word);
}

/// A `T` back from the `void *` that `toWord` made.
fn fromWord(comptime T: type, item: ?*anyopaque) T {
    const word = @intFromPtr(item);
    var value: T = undefined;
    @memcpy(std.mem.asBytes(&value), std.mem.asBytes(&word)[0..@sizeOf(T)]);
    return value;
}

/// A timer started by `Runtime.after` or `Runtime.every`.
pub const Timer = struct {
    handle: c.xasync_timer,

    /// Cancels the timer (also the way to release a one-shot timer that
    /// fired). Once it returns the callback is not running and will not be
    /// called again, so its context may go.
    pub fn cancel(self: Timer) Error!void {
        return check(c.xasync_timer_cancel(self.handle));
    }
};

/// A file descriptor watched by `Runtime.watch`.
pub const Watch = struct {
    handle: c.xasync_watch,

    /// Stops watching. Once it returns (outside fd callbacks) the callback
    /// is not running and will not be called again.
    pub fn unwatch(self: Watch) Error!void {
        return check(c.xasync_fd_unwatch(self.handle));
    }
};

/// Readiness of a file descriptor: what a watch waits for, and what its
/// callback is told.
pub const Events = packed struct(u32) {
    readable: bool = false,
    writable: bool = false,
    read_closed: bool = false,
    write_closed: bool = false,
    err: bool = false,
    _: u27 = 0,

    comptime {
        std.debug.assert(@as(u32, @bitCast(Events{ .readable = true })) == c.XASYNC_READABLE);
        std.debug.assert(@as(u32, @bitCast(Events{ .writable = true })) == c.XASYNC_WRITABLE);
        std.debug.assert(@as(u32, @bitCast(Events{ .read_closed = true })) == c.XASYNC_READ_CLOSED);
        std.debug.assert(@as(u32, @bitCast(Events{ .write_closed = true })) == c.XASYNC_WRITE_CLOSED);
        std.debug.assert(@as(u32, @bitCast(Events{ .err = true })) == c.XASYNC_ERROR);
    }
};

/// The C callback that calls `callback` with its typed context.
fn Callback(comptime Context: type, comptime callback: fn (Context) void) type {
    return struct {
        fn call(user_data: ?*anyopaque) callconv(.c) void {
            callback(fromOpaque(Context, user_data));
        }
    };
}

/// A callback's context as the C `void *user_data`.
fn toOpaque(context: anytype) ?*anyopaque {
    if (@typeInfo(@TypeOf(context)) != .pointer) @compileError("a callback's context must be a pointer");
    return @ptrCast(@constCast(context));
}

/// The C `user_data` back as the context's type.
fn fromOpaque(comptime Context: type, user_data: ?*anyopaque) Context {
    return @ptrCast(@alignCast(user_data));
}

/// A member of a fiber group: symmetric coroutines that switch directly to
/// one another (the seed's `count_coro.resumeFrom(&base_coro)`), on the
/// thread (or in the coroutine) that created the group. Fibers must not
/// wait: the waiting calls fail there with `error.Busy`.
pub const Fiber = struct {
    handle: c.xasync_fiber,
    /// The arguments of a fiber spawned by `spawn`, freed by `deinit`;
    /// null for a base and for the handle a fiber's function receives.
    frame: ?*Frame = null,

    const Frame = struct {
        free: *const fn (*Frame) void,
    };

    /// Starts a group whose base is the calling context; returns the base.
    pub fn group() Error!Fiber {
        var base: Fiber = .{ .handle = undefined };
        try check(c.xasync_fiber_group_create(&base.handle));
        return base;
    }

    /// Adds a fiber to this member's group that will run
    /// `function(me, args...)` on a stack of its own (64 KiB) when first
    /// resumed; `me` is the fiber's own handle, to switch away with.
    pub fn spawn(self: Fiber, comptime function: anytype, args: FiberArgs(function)) Error!Fiber {
        const Args = FiberArgs(function);
        const Start = struct {
            frame: Frame = .{ .free = free },
            args: Args,

            fn run(me: c.xasync_fiber, arg: ?*anyopaque) callconv(.c) void {
                const start: *@This() = @ptrCast(@alignCast(arg));
                @call(.auto, function, .{Fiber{ .handle = me }} ++ start.args);
            }

            fn free(frame: *Frame) void {
                allocator.destroy(@as(*@This(), @fieldParentPtr("frame", frame)));
            }
        };
        const start = try allocator.create(Start);
        start.* = .{ .args = args };
        var fiber: Fiber = .{ .handle = undefined, .frame = &start.frame };
        check(c.xasync_fiber_spawn(self.handle, Start.run, start, 0, &fiber.handle)) catch |err| {
            allocator.destroy(start);
            return err;
        };
        return fiber;
    }

    /// Suspends `from` (the caller: the group's running member) and runs
    /// this fiber until something switches back to `from`.
    pub fn resumeFrom(self: Fiber, from: Fiber) Error!void {
        return check(c.xasync_fiber_resume_from(self.handle, from.handle));
    }

    /// Whether the fiber's function has returned.
    pub fn isFinished(self: Fiber) Error!bool {
        var finished: bool = false;
        try check(c.xasync_fiber_is_finished(self.handle, &finished));
        return finished;
    }

    /// Releases the member: a fiber that has finished or never ran, or a
    /// base. `error.Busy` for a fiber in the middle of its function
    /// (resume it until it returns).
    pub fn deinit(self: Fiber) Error!void {
        try check(c.xasync_fiber_destroy(self.handle));
        if (self.frame) |frame| frame.free(frame);
    }
};

/// The arguments of a fiber's function but its first (its own handle).
fn FiberArgs(comptime function: anytype) type {
    const params = @typeInfo(@TypeOf(function)).@"fn".param_types;
    var types: [params.len - 1]type = undefined;
    for (params[1..], &types) |param, *t| t.* = param.?;
    return @Tuple(&types);
}
