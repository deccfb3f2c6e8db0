/* The C++ wrapper (include/xasync.hpp): RAII runtimes and handles,
 * move-only tasks, lambdas with arguments, exceptions carried from a
 * coroutine to wait(), typed channels, timers, an fd callback on a pipe,
 * and stale handles. Checks abort; the last line says all passed. */
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "xasync.hpp"

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

/* Checks that `expr` throws a `type`, called `e`, for which `holds` is
 * true. */
#define EXPECT_THROWN(expr, type, holds)                                                  \
    do {                                                                                  \
        bool thrown_ = false;                                                             \
        try {                                                                             \
            (void)(expr);                                                                 \
        } catch (const type &e) {                                                         \
            thrown_ = (holds);                                                            \
        }                                                                                 \
        CHECK(thrown_);                                                                   \
    } while (0)

/* Checks that `expr` throws xa::error with `code`. */
#define EXPECT_STATUS(expr, code) EXPECT_THROWN(expr, xa::error, e.status() == (code))

static_assert(!std::is_copy_constructible_v<xa::task<int>>, "tasks are move-only");
static_assert(std::is_nothrow_move_constructible_v<xa::task<int>>, "tasks move");
static_assert(!std::is_copy_constructible_v<xa::runtime>, "runtimes are move-only");
static_assert(!std::is_copy_constructible_v<xa::channel<int>>, "channels are move-only");

static double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

static xa::runtime make_runtime() { return xa::runtime({2, 0, "cpp-test"}); }

static void sleeps_overlap() {
    auto rt = make_runtime();
    double start = now_ms();
    std::vector<xa::task<int>> tasks;
    for (int i = 0; i < 3; i++)
        tasks.push_back(rt.spawn([](int n) { xa::sleep_ms(200); return n * 2; }, i));
    int sum = 0;
    for (auto &t : tasks) sum += t.wait();
    double elapsed = now_ms() - start;
    CHECK(sum == 6);
    CHECK(elapsed >= 200 && elapsed < 500); /* one after another: 600 ms */
}

struct custom_failure {
    int code;
};

static void exceptions_cross_to_wait() {
    auto rt = make_runtime();
    auto t = rt.spawn([] {
        xa::yield();
        throw custom_failure{7};
        return 0;
    });
    EXPECT_THROWN(t.wait(), custom_failure, e.code == 7);
    auto v = rt.spawn([]() -> void { throw std::runtime_error("void task"); });
    try {
        v.wait();
        CHECK(false);
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == "void task");
    }
    /* A callable that does not fit in a word runs in a frame: the same. */
    std::string what(100, 'w');
    auto framed = rt.spawn([what]() -> std::string { throw std::runtime_error(what); });
    try {
        framed.wait();
        CHECK(false);
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == what);
    }
}

/* An exception that counts its live copies, to tell that none leaked. */
struct counted_failure {
    static inline std::atomic<int> live{0};
    int code;
    explicit counted_failure(int c) : code(c) { live++; }
    counted_failure(const counted_failure &other) : code(other.code) { live++; }
    ~counted_failure() { live--; }
};

/* A lambda of a word that may throw runs inline (no frame): what it throws
 * travels as the task's failure and wait() rethrows it. */
static void exceptions_from_inline_tasks_reach_wait() {
    auto rt = make_runtime();
    auto fails_if_odd = [](uint64_t v) {
        if (v % 2 == 1) throw counted_failure{int(v)};
        return v * 10;
    };
    static_assert(xa::detail::runs_inline<decltype(fails_if_odd), uint64_t>());
    CHECK(rt.spawn(fails_if_odd, uint64_t{4}).wait() == 40);
    auto t = rt.spawn(fails_if_odd, uint64_t{5});
    EXPECT_THROWN(t.wait(), counted_failure, e.code == 5);
    EXPECT_STATUS(t.wait(), XASYNC_ERR_STALE_HANDLE); /* the handle was released */
    int where = 0;
    auto v = rt.spawn([p = &where]() {
        *p = 1;
        xa::yield();
        throw std::runtime_error("a void task that ran inline");
    });
    static_assert(std::is_same_v<decltype(v), xa::task<void>>);
    try {
        v.wait();
        CHECK(false);
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == "a void task that ran inline");
    }
    CHECK(where == 1);
    CHECK(counted_failure::live == 0);
}

/* What a task threw that nobody waits for — detached before or after it
 * threw, or dropped unwaited (its destructor cancels and awaits it) — is
 * freed: no copy of the exception lives on (and valgrind sees no leak). */
static void exceptions_nobody_waits_for_are_freed() {
    static std::atomic<int> thrown{0};
    {
        auto rt = make_runtime();
        auto throws = [](int code) {
            thrown.fetch_add(1);
            throw counted_failure{code};
        };
        static_assert(xa::detail::runs_inline<decltype(throws), int>());
        rt.spawn(throws, 1).detach(); /* inline, detached at once */
        auto later = rt.spawn(throws, 2);
        while (!later.is_finished()) xa::sleep_ms(1);
        later.detach(); /* inline, detached after it threw */
        {
            auto dropped = rt.spawn(throws, 3);
            while (!dropped.is_finished()) xa::sleep_ms(1);
        } /* inline, dropped unwaited after it threw */
        /* The first may still be queued on the other worker (valgrind on a
         * loaded machine saw 2 here). */
        for (double deadline = now_ms() + 10000; thrown < 3 && now_ms() < deadline;) xa::sleep_ms(1);
        CHECK(thrown == 3);
        std::string big(100, 'x');
        rt.spawn([big] {
              thrown.fetch_add(1);
              throw counted_failure{int(big.size())};
          }).detach(); /* framed (the string does not fit in a word), detached */
        for (double deadline = now_ms() + 10000; thrown < 4 && now_ms() < deadline;) xa::sleep_ms(1);
        CHECK(thrown == 4);
    } /* the runtime is destroyed: its threads joined */
    CHECK(counted_failure::live == 0);
}

/* xa::spawn starts on the caller's runtime: here, rt. (Not the default
 * runtime, whose threads outlive the test and would be valgrind noise.) */
static void move_only_captures_and_results() {
    auto rt = make_runtime();
    auto outer = rt.spawn([] {
        auto p = std::make_unique<std::string>("owned");
        auto t = xa::spawn([p = std::move(p)](std::string suffix) { return *p + suffix; },
                           std::string("!"));
        xa::task<std::string> moved = std::move(t);
        return moved.wait();
    });
    CHECK(outer.wait() == "owned!");
}

/* A lambda with one word of argument and result runs without a frame,
 * whether it may throw or not: the same behaviour. */
constexpr auto add_one = [](uint64_t v) noexcept { return v + 1; };
static_assert(xa::detail::runs_inline<std::decay_t<decltype(add_one)>, uint64_t>(),
              "a noexcept lambda without captures, one word in and out, runs inline");
constexpr auto may_throw = [](uint64_t v) { return v + 1; };
static_assert(xa::detail::runs_inline<std::decay_t<decltype(may_throw)>, uint64_t>(),
              "a lambda that may throw runs inline too: its exception is the task's failure");
constexpr auto two_words = [](uint64_t a, uint64_t b) { return a + b; };
static_assert(!xa::detail::runs_inline<std::decay_t<decltype(two_words)>, uint64_t, uint64_t>(),
              "two arguments do not fit in the C argument: a frame");

static void inline_tasks_behave_the_same() {
    auto rt = make_runtime();
    auto t = rt.spawn(add_one, uint64_t{41});
    CHECK(t.wait() == 42);
    EXPECT_STATUS(t.wait(), XASYNC_ERR_STALE_HANDLE);
    std::atomic<int> ran{0};
    auto v = rt.spawn([p = &ran]() noexcept { p->fetch_add(1); });
    v.wait();
    CHECK(ran == 1);
    rt.spawn([p = &ran]() noexcept { p->fetch_add(1); }).detach();
    rt.spawn([p = &ran](int by) { p->fetch_add(by); }, 2).detach(); /* framed */
    for (double deadline = now_ms() + 10000; ran < 4 && now_ms() < deadline;) xa::sleep_ms(1);
    CHECK(ran == 4);
    std::atomic<int> status{0};
    {
        auto sleeper = rt.spawn([p = &status]() noexcept {
            *p = xasync_sleep_ms(60000); /* no exceptions here: the status */
        });
        xa::sleep_ms(20);
    } /* cancelled and waited for */
    CHECK(status == XASYNC_ERR_CANCELLED);
}

static void counter_chained_to_printer() {
    auto rt = make_runtime();
    auto ch = xa::channel<int>::bounded(0);
    auto counter = rt.spawn([&ch] {
        for (int i = 1; i <= 5; i++) ch.send(i);
        ch.close();
    });
    auto printer = rt.spawn([&ch] {
        std::string line;
        while (auto n = ch.recv()) line += std::to_string(*n) + " ";
        return line;
    });
    counter.wait();
    CHECK(printer.wait() == "1 2 3 4 5 ");
}

static void channels_of_strings_box_them() {
    auto ch = xa::channel<std::string>::unbounded();
    ch.send("a string longer than a pointer");
    ch.send("left in the channel: freed by its destructor");
    CHECK(ch.size() == 2);
    CHECK(*ch.recv() == "a string longer than a pointer");
    auto small = xa::channel<int>::bounded(1);
    CHECK(small.try_send(1));
    CHECK(!small.try_send(2));
    CHECK(*small.try_recv() == 1);
    CHECK(!small.try_recv());
    CHECK(!small.recv_for(5));
}

static void timers_call_back_and_rethrow() {
    auto rt = make_runtime();
    std::atomic<int> ticks{0};
    auto periodic = rt.every(1, 2, [&] { ticks++; });
    auto failing = rt.after(1, [] { throw custom_failure{3}; });
    for (double deadline = now_ms() + 10000; ticks < 3 && now_ms() < deadline;)
        xa::sleep_ms(1);
    periodic.cancel();
    int seen = ticks;
    CHECK(seen >= 3);
    xa::sleep_ms(10);
    CHECK(ticks == seen);
    xa::sleep_ms(20); /* the failing timer has fired */
    EXPECT_THROWN(failing.cancel(), custom_failure, e.code == 3);
}

static void fd_callback_on_a_pipe() {
    auto rt = make_runtime();
    int fds[2];
    CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    auto got = xa::channel<char>::unbounded();
    auto w = rt.watch_fd(fds[0], XASYNC_READABLE, [&](int fd, uint32_t events) {
        CHECK(events & XASYNC_READABLE);
        char buf[16];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < n; i++) got.try_send(buf[i]);
        EXPECT_STATUS(xa::sleep_ms(1), XASYNC_ERR_BUSY); /* no waiting on the loop */
    });
    CHECK(write(fds[1], "hi", 2) == 2);
    CHECK(got.recv_for(5000) == 'h');
    CHECK(got.recv_for(5000) == 'i');
    w.unwatch();
    EXPECT_STATUS(w.unwatch(), XASYNC_ERR_STALE_HANDLE);
    close(fds[0]);
    close(fds[1]);
}

/* The seed's symmetric switching: a counter and a printer fiber resume
 * each other directly. */
static void fibers_switch_symmetrically() {
    auto base = xa::fiber::group();
    int n = 0;
    std::string line;
    xa::fiber counter, printer;
    counter = base.spawn([&](xa::fiber_ref me) {
        for (n = 1; n <= 5; n++) printer.resume_from(me);
    });
    printer = base.spawn([&](xa::fiber_ref me) {
        while (!counter.is_finished()) {
            line += std::to_string(n) + " ";
            counter.resume_from(me);
        }
        EXPECT_STATUS(xa::sleep_ms(1), XASYNC_ERR_BUSY); /* a fiber must not wait */
    });
    counter.resume_from(base);
    CHECK(line == "1 2 3 4 5 ");
    CHECK(printer.is_finished());
    EXPECT_STATUS(counter.resume_from(base), XASYNC_ERR_INVALID_ARGUMENT); /* finished */
}

static void fiber_exceptions_reach_the_resumer() {
    auto base = xa::fiber::group();
    auto thrower = base.spawn([](xa::fiber_ref) { throw custom_failure{9}; });
    EXPECT_THROWN(thrower.resume_from(base), custom_failure, e.code == 9);
    CHECK(thrower.is_finished());
    auto bouncer = base.spawn([&](xa::fiber_ref me) { base.resume_from(me); });
    bouncer.resume_from(base);
    EXPECT_STATUS(bouncer.destroy(), XASYNC_ERR_BUSY); /* in the middle of its function */
    bouncer.resume_from(base);
    bouncer.destroy();
}

static void stale_handles_throw() {
    auto rt = make_runtime();
    auto t = rt.spawn([] { return 1; });
    CHECK(t.wait() == 1);
    EXPECT_STATUS(t.wait(), XASYNC_ERR_STALE_HANDLE);
    EXPECT_STATUS(t.cancel(), XASYNC_ERR_STALE_HANDLE);
    xa::task<int> empty;
    EXPECT_STATUS(empty.wait(), XASYNC_ERR_INVALID_HANDLE);
}

static void an_unwaited_task_is_cancelled_by_its_destructor() {
    auto rt = make_runtime();
    std::atomic<int> status{0};
    {
        auto t = rt.spawn([&] {
            try {
                xa::sleep_ms(60000);
            } catch (const xa::error &e) {
                status = e.status();
                throw;
            }
        });
        xa::sleep_ms(20); /* let it start sleeping */
    }
    CHECK(status == XASYNC_ERR_CANCELLED);
}

static void destroying_the_runtime_cancels_its_tasks() {
    xa::task<void> sleeper;
    {
        auto rt = make_runtime();
        sleeper = rt.spawn([] { xa::sleep_ms(60000); });
    }
    EXPECT_STATUS(sleeper.wait(), XASYNC_ERR_CANCELLED);
}

static void run_all() {
    int run = 0;
#define RUN(test)                                      \
    do {                                               \
        test();                                        \
        run++;                                         \
        std::printf("ok - %s\n", #test);               \
        std::fflush(stdout);                           \
    } while (0)
    RUN(sleeps_overlap);
    RUN(exceptions_cross_to_wait);
    RUN(exceptions_from_inline_tasks_reach_wait);
    RUN(exceptions_nobody_waits_for_are_freed);
    RUN(move_only_captures_and_results);
    RUN(inline_tasks_behave_the_same);
    RUN(counter_chained_to_printer);
    RUN(channels_of_strings_box_them);
    RUN(timers_call_back_and_rethrow);
    RUN(fd_callback_on_a_pipe);
    RUN(fibers_switch_symmetrically);
    RUN(fiber_exceptions_reach_the_resumer);
    RUN(stale_handles_throw);
    RUN(an_unwaited_task_is_cancelled_by_its_destructor);
    RUN(destroying_the_runtime_cancels_its_tasks);
    std::printf("C++ wrapper: %d passed, 0 failed\n", run);
}

/* The suite runs on a thread of its own, joined, so that the per-thread
 * state the library keeps for a thread that waits is freed by that
 * thread's TLS destructors (see capi/tests/check.h): valgrind sees no leak. */
int main() {
    std::thread suite(run_all);
    suite.join();
}
