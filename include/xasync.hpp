/*
 * xasync — a header-only C++17 wrapper of the C ABI (xasync.h).
 *
 *   xa::runtime rt;                                   // destroyed when it goes
 *   auto t = rt.spawn([](int n) { xa::sleep_ms(50); return n * 2; }, 21);
 *   int v = t.wait();                                 // 42; rethrows what the lambda threw
 *
 * The namespace is xa: C++ cannot have a namespace named like the C
 * function xasync() of xasync.h.
 *
 * - Errors of the C functions are thrown as xa::error (its status() is
 *   the XASYNC_ERR_* code, what() the library's message).
 * - Runtimes, tasks, channels, timers and fd watches are move-only RAII
 *   objects: a runtime is destroyed, a task that was neither waited for
 *   nor detached is cancelled and waited for, a channel destroyed, a timer
 *   cancelled, a watch removed.
 * - No C++ exception ever unwinds through the library's (Rust) frames or a
 *   coroutine's entry: whatever a spawned callable throws is caught at the
 *   coroutine's boundary, carried to the waiter as the task's failure
 *   (xasync_task_fail; only a callable that throws allocates for it) and
 *   rethrown by task::wait(); what a timer or fd callback throws is kept
 *   and rethrown by timer::cancel() or watch::unwatch() (later throws of
 *   the same callback are dropped).
 * - In a cancelled coroutine the waiting calls throw xa::error with
 *   status XASYNC_ERR_CANCELLED: let it propagate, the coroutine then ends.
 * - Fibers (xa::fiber): what a fiber's function throws is rethrown by the
 *   resume_from() of the member it finishes into.
 *
 * Link as for xasync.h: libxasync_ffi.a with
 * -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc.
 */
#ifndef XASYNC_HPP
#define XASYNC_HPP

#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "xasync.h"

namespace xa {

/** A failure reported by the C ABI: its status and message. */
class error : public std::runtime_error {
public:
    error(xasync_status status, const char *message)
        : std::runtime_error(message), status_(status) {}

    /** The XASYNC_ERR_* code. */
    xasync_status status() const noexcept { return status_; }

private:
    xasync_status status_;
};

/** Throws the error of `status`, with the thread's last error message. */
inline void check(xasync_status status) {
    if (status != XASYNC_OK) throw error(status, xasync_last_error());
}

/** Waits `ms` milliseconds: suspends a coroutine, blocks a thread. */
inline void sleep_ms(uint64_t ms) { check(xasync_sleep_ms(ms)); }

/** Lets the other coroutines of the worker run, then continues. */
inline void yield() { check(xasync_yield()); }

namespace detail {

/** Whether a `T` can travel in a C `void *` (copied bit for bit). */
template <class T>
inline constexpr bool fits_word = std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(void *);

/** A value that fits in a word, as a C `void *`. */
template <class T>
void *to_word(const T &value) noexcept {
    void *word = nullptr;
    std::memcpy(&word, &value, sizeof(T));
    return word;
}

/** A `T` back from the `void *` that to_word made. */
template <class T>
T from_word(void *word) noexcept {
    alignas(T) unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &word, sizeof(T));
    return *std::launder(reinterpret_cast<T *>(bytes));
}

/** A callable and its argument (at most one) packed together; an empty
 * callable (a lambda without captures) takes no room as a base. */
template <class F, class... A>
struct packed;
template <class F>
struct packed<F> : F {
    decltype(auto) call() { return static_cast<F &>(*this)(); }
};
template <class F, class A>
struct packed<F, A> : F {
    A arg;
    decltype(auto) call() { return static_cast<F &>(*this)(arg); }
};

/** Whether `f(args...)` can run without a frame: the callable with its
 * argument, and its result, fit in the C `void *`s (an exception travels
 * as the task's failure, see report_exception). */
template <class F, class... A>
constexpr bool runs_inline() {
    if constexpr (!std::is_class_v<F> || std::is_final_v<F> || sizeof...(A) > 1) {
        return false;
    } else {
        using R = std::invoke_result_t<F &, A &...>;
        if constexpr (std::is_void_v<R>) {
            return fits_word<packed<F, A...>>;
        } else {
            return fits_word<packed<F, A...>> && fits_word<R>;
        }
    }
}

/** Frees an exception that nobody rethrew (the xasync_drop_fn of a task's
 * failure: a detached task's, say). */
inline void drop_exception(void *payload) noexcept { delete static_cast<std::exception_ptr *>(payload); }

/** In a catch block of a task's coroutine: reports the exception being
 * handled as the task's failure, for task::wait() to rethrow. Out of
 * memory, the failure has no payload and wait() throws std::bad_alloc. */
inline void report_exception() noexcept {
    auto *thrown = new (std::nothrow) std::exception_ptr(std::current_exception());
    if (xasync_task_fail(thrown, thrown != nullptr ? &drop_exception : nullptr) != XASYNC_OK)
        delete thrown;
}

/** Rethrows the failure a task reported (see report_exception). */
[[noreturn]] inline void rethrow_failure(void *payload) {
    if (payload == nullptr) throw std::bad_alloc();
    std::unique_ptr<std::exception_ptr> thrown(static_cast<std::exception_ptr *>(payload));
    std::rethrow_exception(*thrown);
}

/** The coroutine entry of a call that runs inline (see runs_inline): no
 * exception leaves it. */
template <class R, class P>
void *inline_entry(void *word) noexcept {
    P call = from_word<P>(word);
    try {
        if constexpr (std::is_void_v<R>) {
            call.call();
            return nullptr;
        } else {
            return to_word<R>(call.call());
        }
    } catch (...) {
        report_exception();
        return nullptr;
    }
}

/** A task's shared state: the coroutine writes it, the handle reads it. */
template <class R>
struct frame {
    using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
    enum : int { running, finished, detached };

    std::optional<value_type> value;
    std::atomic<int> state{running};

    virtual ~frame() = default;
    virtual void invoke() = 0;

    /** The coroutine's entry: no exception leaves it. */
    static void *entry(void *arg) noexcept {
        auto *self = static_cast<frame *>(arg);
        try {
            self->invoke();
        } catch (...) {
            report_exception();
        }
        // A detached task's frame is freed by whoever comes last.
        if (self->state.exchange(finished, std::memory_order_acq_rel) == detached) delete self;
        return nullptr;
    }
};

/** The frame of a callable `Fn` that returns `R`. */
template <class R, class Fn>
struct frame_of final : frame<R> {
    Fn fn;
    explicit frame_of(Fn f) : fn(std::move(f)) {}
    void invoke() override {
        if constexpr (std::is_void_v<R>) {
            fn();
            this->value.emplace();
        } else {
            this->value.emplace(fn());
        }
    }
};

/** A callback's state for the C `void *user_data`: the callable and the
 * first exception it threw. */
template <class Fn>
struct callback {
    Fn fn;
    std::exception_ptr thrown;

    template <class... A>
    void operator()(A... args) noexcept {
        try {
            fn(args...);
        } catch (...) {
            if (!thrown) thrown = std::current_exception();
        }
    }
};

/** A callback registered with the C API until `Cancel` ends it (the base of
 * `timer` and `watch`): its `Handle` and its state, which the callback
 * uses until then, move together. Move-only. */
template <class Handle, class Signature, xasync_status (*Cancel)(Handle)>
class registration {
public:
    registration() = default;
    registration(registration &&other) noexcept
        : handle_(std::exchange(other.handle_, Handle{0})), state_(std::move(other.state_)) {}
    registration &operator=(registration &&other) noexcept {
        if (this != &other) {
            stop();
            handle_ = std::exchange(other.handle_, Handle{0});
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~registration() { stop(); }

protected:
    using state = callback<std::function<Signature>>;

    /** Ends the registration; once it returns the callback will not run
     * again. Rethrows the first exception the callback threw. */
    void end() {
        check(Cancel(handle_));
        auto state = std::move(state_);
        if (state && state->thrown) std::rethrow_exception(state->thrown);
    }

    Handle handle_{0};
    std::unique_ptr<state> state_;

private:
    void stop() noexcept {
        if (!state_) return;
        if (Cancel(handle_) != XASYNC_OK) {
            // Still possibly running (cancelled from a cancelled coroutine):
            // its state must outlive it.
            state_.release();
        }
        state_.reset();
    }
};

}  // namespace detail

/** A coroutine returning `R`. Move-only; wait() or detach() it, else its
 * destructor cancels it and waits for it to end. */
template <class R>
class task {
public:
    task() = default;
    task(task &&other) noexcept
        : handle_(other.handle_),
          frame_(std::exchange(other.frame_, nullptr)),
          owned_(std::exchange(other.owned_, false)) {}
    task &operator=(task &&other) noexcept {
        if (this != &other) {
            release();
            handle_ = other.handle_;
            frame_ = std::exchange(other.frame_, nullptr);
            owned_ = std::exchange(other.owned_, false);
        }
        return *this;
    }
    task(const task &) = delete;
    task &operator=(const task &) = delete;
    ~task() { release(); }

    /** Waits for the coroutine and returns its result, or rethrows what
     * it threw. A second wait throws XASYNC_ERR_STALE_HANDLE. */
    R wait() {
        void *word = nullptr;
        xasync_status status = xasync_await(handle_, &word);
        if (status != XASYNC_OK) {
            if (owned_ && released(status)) forget();
            if (status == XASYNC_ERR_FAILED) detail::rethrow_failure(word);
            check(status);
        }
        owned_ = false;
        if (frame_ == nullptr) {
            // A task that ran inline (see runtime::spawn_on).
            if constexpr (std::is_void_v<R>) {
                return;
            } else if constexpr (detail::fits_word<R>) {
                return detail::from_word<R>(word);
            }
        }
        std::unique_ptr<detail::frame<R>> done(std::exchange(frame_, nullptr));
        if constexpr (!std::is_void_v<R>) return std::move(*done->value);
    }

    /** Cancels the coroutine; the handle stays valid (wait or detach it). */
    void cancel() { check(xasync_task_cancel(handle_)); }

    /** Whether the coroutine has finished: wait() would not wait. */
    bool is_finished() const {
        bool finished = false;
        check(xasync_task_is_finished(handle_, &finished));
        return finished;
    }

    /** Lets the coroutine run on; its result (or exception) is dropped. */
    void detach() {
        check(xasync_task_detach(handle_));
        owned_ = false;
        auto *f = std::exchange(frame_, nullptr);
        if (f != nullptr &&
            f->state.exchange(detail::frame<R>::detached, std::memory_order_acq_rel) ==
                detail::frame<R>::finished)
            delete f;
    }

    /** The C handle. */
    xasync_task handle() const noexcept { return handle_; }

private:
    friend class runtime;
    task(xasync_task handle, detail::frame<R> *frame)
        : handle_(handle), frame_(frame), owned_(true) {}

    /** Whether the failed await that returned `status` released the handle
     * (the coroutine has then ended). */
    bool released(xasync_status status) const noexcept {
        switch (status) {
        case XASYNC_ERR_STALE_HANDLE:
        case XASYNC_ERR_INVALID_HANDLE:
        case XASYNC_ERR_DEADLOCK:
            return false;
        case XASYNC_ERR_CANCELLED: {
            // Also what a caller cancelled before the await gets, which
            // keeps the handle.
            bool finished = false;
            return xasync_task_is_finished(handle_, &finished) == XASYNC_ERR_STALE_HANDLE;
        }
        default:
            return true;
        }
    }

    /** The handle was released and the coroutine has ended: frees what is
     * left of it. */
    void forget() noexcept {
        delete std::exchange(frame_, nullptr);
        owned_ = false;
    }

    /** The destructor's part: cancels and waits for a task still owned (or
     * detaches it, when this coroutine cannot wait). */
    void release() noexcept {
        if (!owned_) return;
        xasync_task_cancel(handle_);
        // A failure's exception is dropped by the library (NULL result).
        xasync_status status = xasync_await(handle_, nullptr);
        if (status == XASYNC_OK || status == XASYNC_ERR_FAILED || released(XASYNC_ERR_CANCELLED)) {
            forget();
            return;
        }
        owned_ = false;
        if (xasync_task_detach(handle_) == XASYNC_OK && frame_ != nullptr &&
            frame_->state.exchange(detail::frame<R>::detached, std::memory_order_acq_rel) ==
                detail::frame<R>::finished)
            delete frame_;
        frame_ = nullptr;
    }

    xasync_task handle_{0};
    detail::frame<R> *frame_ = nullptr;
    /** Neither waited for nor detached (nor moved from). */
    bool owned_ = false;
};

/** A timer: calls its callback until cancelled (by cancel() or its
 * destructor). Move-only. */
class timer : public detail::registration<xasync_timer, void(), xasync_timer_cancel> {
public:
    /** Cancels the timer; once it returns the callback will not run again.
     * Rethrows the first exception the callback threw. */
    void cancel() { end(); }

private:
    friend class runtime;

    static void call(void *user_data) noexcept { (*static_cast<state *>(user_data))(); }
};

/** A watched file descriptor: calls its callback on the event loop until
 * removed (by unwatch() or its destructor). Move-only. */
class watch : public detail::registration<xasync_watch, void(int, uint32_t), xasync_fd_unwatch> {
public:
    /** Stops watching; rethrows the first exception the callback threw. */
    void unwatch() { end(); }

private:
    friend class runtime;

    static void call(int fd, uint32_t events, void *user_data) noexcept {
        (*static_cast<state *>(user_data))(fd, events);
    }
};

namespace detail {
/** What a fiber's function threw, for the member it finishes into: its
 * resume_from() (the wrapper's) rethrows it. */
inline thread_local std::exception_ptr fiber_thrown;
}  // namespace detail

/** A member of a fiber group, not owned: what a fiber's function receives
 * as its own handle, and what `fiber` derives from. */
class fiber_ref {
public:
    explicit fiber_ref(xasync_fiber handle = xasync_fiber{0}) noexcept : handle_(handle) {}

    /** Suspends `from` (the caller: the running member of the group) and
     * runs this member until something switches back to `from`. Rethrows
     * what a fiber that finished into the caller threw. */
    void resume_from(fiber_ref from) const {
        check(xasync_fiber_resume_from(handle_, from.handle_));
        if (detail::fiber_thrown) std::rethrow_exception(std::exchange(detail::fiber_thrown, nullptr));
    }

    /** Whether the fiber's function has returned (or thrown). */
    bool is_finished() const {
        bool finished = false;
        check(xasync_fiber_is_finished(handle_, &finished));
        return finished;
    }

    /** The C handle. */
    xasync_fiber handle() const noexcept { return handle_; }

protected:
    xasync_fiber handle_;
};

/** A fiber group's member, owned: symmetric coroutines on the calling
 * thread (or in the calling coroutine) that switch directly to one another
 * (the seed's count_coro.resumeFrom(&base_coro)). Move-only; released by
 * its destructor, except a fiber in the middle of its function (resume it
 * until it returns first), which then stays allocated. A fiber must not
 * wait (the waiting calls throw XASYNC_ERR_BUSY). */
class fiber : public fiber_ref {
public:
    /** Makes the caller the base of a new group; returns the base. */
    static fiber group() {
        xasync_fiber base{0};
        check(xasync_fiber_group_create(&base));
        return fiber(base, nullptr);
    }

    /** Adds a fiber to this member's group that runs `f(me)` on a stack of
     * its own (`stack_size` bytes; 0: 64 KiB) when first resumed. */
    template <class F>
    fiber spawn(F f, size_t stack_size = 0) const {
        auto state = std::make_unique<function>(std::move(f));
        xasync_fiber out{0};
        check(xasync_fiber_spawn(handle_, &entry, state.get(), stack_size, &out));
        return fiber(out, std::move(state));
    }

    /** No member (to move one into). */
    fiber() = default;
    fiber(fiber &&other) noexcept
        : fiber_ref(std::exchange(other.handle_, xasync_fiber{0})), state_(std::move(other.state_)) {}
    fiber &operator=(fiber &&other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, xasync_fiber{0});
            state_ = std::move(other.state_);
        }
        return *this;
    }
    fiber(const fiber &) = delete;
    fiber &operator=(const fiber &) = delete;
    ~fiber() { release(); }

    /** Releases the member now; throws XASYNC_ERR_BUSY for a fiber in the
     * middle of its function (it stays valid). */
    void destroy() {
        check(xasync_fiber_destroy(handle_));
        handle_ = xasync_fiber{0};
        state_.reset();
    }

private:
    using function = std::function<void(fiber_ref)>;

    fiber(xasync_fiber handle, std::unique_ptr<function> state) noexcept
        : fiber_ref(handle), state_(std::move(state)) {}

    /** The fiber's entry: no exception leaves it. */
    static void entry(xasync_fiber me, void *arg) noexcept {
        try {
            (*static_cast<function *>(arg))(fiber_ref(me));
        } catch (...) {
            detail::fiber_thrown = std::current_exception();
        }
    }

    void release() noexcept {
        if (handle_.id == 0) return;
        // A fiber still in its function keeps its callable.
        if (xasync_fiber_destroy(handle_) != XASYNC_OK) state_.release();
        handle_ = xasync_fiber{0};
        state_.reset();
    }

    std::unique_ptr<function> state_;
};

/** A set of worker threads running coroutines. Move-only; destroyed (its
 * unfinished tasks cancelled, its threads joined) when it goes. */
class runtime {
public:
    struct options {
        /** Worker threads; 0: one per CPU. */
        size_t workers = 0;
        /** Usable bytes of each coroutine's stack; 0: 64 KiB. */
        size_t stack_size = 0;
        /** Name of the worker threads; nullptr: "xasync-worker". */
        const char *thread_name = nullptr;
    };

    runtime() : runtime(options{}) {}
    explicit runtime(const options &opts) {
        xasync_runtime_config config;
        check(xasync_runtime_config_init(&config));
        config.workers = opts.workers;
        config.stack_size = opts.stack_size;
        config.thread_name = opts.thread_name;
        check(xasync_runtime_create(&config, &handle_));
    }
    runtime(runtime &&other) noexcept : handle_(std::exchange(other.handle_, xasync_runtime{0})) {}
    runtime &operator=(runtime &&other) noexcept {
        if (this != &other) {
            if (handle_.id != 0) xasync_runtime_destroy(handle_);
            handle_ = std::exchange(other.handle_, xasync_runtime{0});
        }
        return *this;
    }
    runtime(const runtime &) = delete;
    runtime &operator=(const runtime &) = delete;
    ~runtime() {
        if (handle_.id != 0) xasync_runtime_destroy(handle_);
    }

    /** The runtime of the calling coroutine, else the default one: a
     * handle that destroys nothing. */
    static xasync_runtime current() noexcept { return xasync_runtime{0}; }

    /** Starts `f(args...)` as a coroutine on this runtime. */
    template <class F, class... A>
    auto spawn(F &&f, A &&...args) {
        return spawn_on(handle_, std::forward<F>(f), std::forward<A>(args)...);
    }

    /** Starts `f(args...)` as a coroutine on runtime `rt`. A callable with
     * at most one argument, that fits in a word with it (a lambda without
     * captures, or capturing a word) and returns a word, runs without a
     * frame: no allocation, unless it throws. */
    template <class F, class... A>
    static auto spawn_on(xasync_runtime rt, F &&f, A &&...args) {
        using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
        xasync_task handle{0};
        if constexpr (detail::runs_inline<std::decay_t<F>, std::decay_t<A>...>()) {
            using P = detail::packed<std::decay_t<F>, std::decay_t<A>...>;
            P call{{std::forward<F>(f)}, std::forward<A>(args)...};
            check(xasync_spawn(rt, &detail::inline_entry<R, P>, detail::to_word(call), &handle));
            return task<R>(handle, nullptr);
        } else {
            auto call = [f = std::forward<F>(f),
                         tuple = std::make_tuple(std::forward<A>(args)...)]() mutable -> R {
                return std::apply(f, std::move(tuple));
            };
            auto frame = std::make_unique<detail::frame_of<R, decltype(call)>>(std::move(call));
            check(xasync_spawn(rt, &detail::frame<R>::entry, frame.get(), &handle));
            return task<R>(handle, frame.release());
        }
    }

    /** Calls `f()` once, `delay_ms` from now, in a coroutine (it may wait). */
    timer after(uint64_t delay_ms, std::function<void()> f) {
        timer t;
        t.state_ = std::make_unique<timer::state>(timer::state{std::move(f), nullptr});
        check(xasync_timer_after(handle_, delay_ms, &timer::call, t.state_.get(), &t.handle_));
        return t;
    }

    /** Calls `f()` every `period_ms`, the first time `delay_ms` from now. */
    timer every(uint64_t delay_ms, uint64_t period_ms, std::function<void()> f) {
        timer t;
        t.state_ = std::make_unique<timer::state>(timer::state{std::move(f), nullptr});
        check(xasync_timer_every(handle_, delay_ms, period_ms, &timer::call, t.state_.get(),
                                 &t.handle_));
        return t;
    }

    /** Calls `f(fd, events)` on the event loop each time `fd` becomes ready
     * for `interest` (XASYNC_READABLE, ...). It must not wait. */
    watch watch_fd(int fd, uint32_t interest, std::function<void(int, uint32_t)> f) {
        watch w;
        w.state_ = std::make_unique<watch::state>(watch::state{std::move(f), nullptr});
        check(xasync_fd_watch(handle_, fd, interest, &watch::call, w.state_.get(), &w.handle_));
        return w;
    }

    /** The C handle. */
    xasync_runtime handle() const noexcept { return handle_; }

private:
    xasync_runtime handle_{0};
};

/** Starts `f(args...)` as a coroutine on the caller's runtime, else the
 * default one (the seed's xasync(f)). */
template <class F, class... A>
auto spawn(F &&f, A &&...args) {
    return runtime::spawn_on(runtime::current(), std::forward<F>(f), std::forward<A>(args)...);
}

/** A channel of `T`s. Values that are trivially copyable and fit in a
 * pointer travel in the C channel's `void *`; others are moved into a heap
 * box. Move-only; destroyed (values left in it freed) when it goes. */
template <class T>
class channel {
public:
    /** A channel holding at most `capacity` values; 0: rendezvous. */
    static channel bounded(size_t capacity) {
        channel ch;
        check(xasync_channel_bounded(capacity, &ch.handle_));
        return ch;
    }
    /** A channel of unlimited capacity. */
    static channel unbounded() {
        channel ch;
        check(xasync_channel_unbounded(&ch.handle_));
        return ch;
    }

    channel(channel &&other) noexcept : handle_(std::exchange(other.handle_, xasync_channel{0})) {}
    channel &operator=(channel &&other) noexcept {
        if (this != &other) {
            destroy();
            handle_ = std::exchange(other.handle_, xasync_channel{0});
        }
        return *this;
    }
    channel(const channel &) = delete;
    channel &operator=(const channel &) = delete;
    ~channel() { destroy(); }

    /** Sends `value`, waiting while the channel is full. */
    void send(T value) {
        check(deliver(std::move(value), [&](void *item) { return xasync_channel_send(handle_, item); }));
    }

    /** Sends `value` if possible without waiting; false if full. */
    bool try_send(T value) {
        xasync_status status = deliver(std::move(value), [&](void *item) {
            return xasync_channel_try_send(handle_, item);
        });
        if (status == XASYNC_ERR_FULL) return false;
        check(status);
        return true;
    }

    /** Receives the next value, waiting while the channel is empty;
     * nullopt once it is closed and drained. */
    std::optional<T> recv() {
        void *item = nullptr;
        xasync_status status = xasync_channel_recv(handle_, &item);
        if (status == XASYNC_ERR_CLOSED) return std::nullopt;
        check(status);
        return decode(item);
    }

    /** Receives a value if one comes within `timeout_ms`; nullopt if not. */
    std::optional<T> recv_for(uint64_t timeout_ms) {
        void *item = nullptr;
        xasync_status status = xasync_channel_recv_timeout(handle_, timeout_ms, &item);
        if (status == XASYNC_ERR_TIMED_OUT || status == XASYNC_ERR_CLOSED) return std::nullopt;
        check(status);
        return decode(item);
    }

    /** Receives a value if one is there; nullopt if not. */
    std::optional<T> try_recv() {
        void *item = nullptr;
        xasync_status status = xasync_channel_try_recv(handle_, &item);
        if (status == XASYNC_ERR_EMPTY || status == XASYNC_ERR_CLOSED) return std::nullopt;
        check(status);
        return decode(item);
    }

    /** Closes the channel for sending. */
    void close() { check(xasync_channel_close(handle_)); }

    /** How many values it holds. */
    size_t size() const {
        size_t n = 0;
        check(xasync_channel_len(handle_, &n));
        return n;
    }

    /** The C handle. */
    xasync_channel handle() const noexcept { return handle_; }

private:
    channel() = default;

    static constexpr bool boxed = !detail::fits_word<T>;

    /** Sends `value` as an item with `send`; a box not sent is freed. */
    template <class Send>
    xasync_status deliver(T value, Send send) {
        if constexpr (boxed) {
            auto box = std::make_unique<T>(std::move(value));
            xasync_status status = send(box.get());
            if (status == XASYNC_OK) box.release();  // sent: the receiver frees it
            return status;
        } else {
            return send(detail::to_word(value));
        }
    }

    static T decode(void *item) {
        if constexpr (boxed) {
            std::unique_ptr<T> box(static_cast<T *>(item));
            return std::move(*box);
        } else {
            return detail::from_word<T>(item);
        }
    }

    void destroy() noexcept {
        if (handle_.id == 0) return;
        if constexpr (boxed) {
            xasync_channel_close(handle_);
            void *item = nullptr;
            while (xasync_channel_try_recv(handle_, &item) == XASYNC_OK) delete static_cast<T *>(item);
        }
        xasync_channel_destroy(handle_);
        handle_ = xasync_channel{0};
    }

    xasync_channel handle_{0};
};

}  // namespace xa

#endif /* XASYNC_HPP */
