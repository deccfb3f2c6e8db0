/* File-descriptor readiness callbacks from C: a pipe watched for reading
 * and writing, unwatch (also from the callback itself), callbacks that try
 * to wait, a watch outliving its runtime, and bad input. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

struct pipe_watch {
    int fds[2];
    xasync_watch watch;
    atomic_int calls;
    atomic_long bytes;
    atomic_uint events;
    xasync_status waited;
    xasync_status unwatched;
};

static void open_pipe(struct pipe_watch *p) {
    CHECK(pipe(p->fds) == 0);
    CHECK(fcntl(p->fds[0], F_SETFL, O_NONBLOCK) == 0);
    CHECK(fcntl(p->fds[1], F_SETFL, O_NONBLOCK) == 0);
}

static void close_pipe(struct pipe_watch *p) {
    close(p->fds[0]);
    close(p->fds[1]);
}

/* Reads everything there is (edge-triggered readiness). */
static void drain(int fd, void *user_data) {
    struct pipe_watch *p = user_data;
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        atomic_fetch_add(&p->bytes, n);
    }
}

static void on_readable(int fd, uint32_t events, void *user_data) {
    struct pipe_watch *p = user_data;
    atomic_fetch_or(&p->events, events);
    drain(fd, p);
    atomic_fetch_add(&p->calls, 1);
}

/* Waits (up to 5 s) until `*counter` reaches `n`. */
static void wait_for(atomic_int *counter, int n) {
    for (int i = 0; i < 5000 && atomic_load(counter) < n; i++) {
        xasync_sleep_ms(1);
    }
    CHECK(atomic_load(counter) >= n);
}

static void readable_pipe(void) {
    xasync_runtime rt = runtime_of(2, "capi-fd");
    struct pipe_watch p = {0};
    open_pipe(&p);
    OK(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, on_readable, &p, &p.watch));
    CHECK(p.watch.id != 0);
    CHECK(write(p.fds[1], "hello", 5) == 5);
    wait_for(&p.calls, 1);
    CHECK(atomic_load(&p.bytes) == 5);
    CHECK(atomic_load(&p.events) & XASYNC_READABLE);
    CHECK(write(p.fds[1], "again", 5) == 5); /* new readiness: called again */
    for (int i = 0; i < 5000 && atomic_load(&p.bytes) < 10; i++) {
        xasync_sleep_ms(1);
    }
    CHECK(atomic_load(&p.bytes) == 10);
    OK(xasync_fd_unwatch(p.watch));
    EXPECT(xasync_fd_unwatch(p.watch), XASYNC_ERR_STALE_HANDLE); /* double unwatch */
    EXPECT_MESSAGE("this watch handle is stale: it was unwatched already");
    int calls = atomic_load(&p.calls);
    CHECK(write(p.fds[1], "late", 4) == 4);
    xasync_sleep_ms(20);
    CHECK(atomic_load(&p.calls) == calls); /* no call after unwatch returned */
    close_pipe(&p);
    OK(xasync_runtime_destroy(rt));
}

static void hang_up_is_reported(void) {
    xasync_runtime rt = runtime_of(1, "capi-fd");
    struct pipe_watch p = {0};
    open_pipe(&p);
    OK(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, on_readable, &p, &p.watch));
    close(p.fds[1]); /* the writer hangs up */
    wait_for(&p.calls, 1);
    CHECK(atomic_load(&p.events) & XASYNC_READ_CLOSED);
    OK(xasync_fd_unwatch(p.watch));
    close(p.fds[0]);
    OK(xasync_runtime_destroy(rt));
}

static void on_writable(int fd, uint32_t events, void *user_data) {
    (void)fd;
    struct pipe_watch *p = user_data;
    atomic_fetch_or(&p->events, events);
    atomic_fetch_add(&p->calls, 1);
}

static void writable_pipe(void) {
    struct pipe_watch p = {0};
    open_pipe(&p);
    xasync_runtime rt = runtime_of(1, "capi-fd");
    OK(xasync_fd_watch(rt, p.fds[1], XASYNC_WRITABLE | XASYNC_READABLE, on_writable, &p,
                       &p.watch));
    wait_for(&p.calls, 1); /* an empty pipe is writable at once */
    CHECK(atomic_load(&p.events) & XASYNC_WRITABLE);
    OK(xasync_fd_unwatch(p.watch));
    close_pipe(&p);
    OK(xasync_runtime_destroy(rt));
}

/* Tries to wait and to unwatch itself from its callback. */
static void impatient(int fd, uint32_t events, void *user_data) {
    (void)events;
    struct pipe_watch *p = user_data;
    drain(fd, p);
    p->waited = xasync_sleep_ms(1);
    p->unwatched = xasync_fd_unwatch(p->watch);
    atomic_fetch_add(&p->calls, 1);
}

static void callbacks_cannot_wait_but_can_unwatch(void) {
    xasync_runtime rt = runtime_of(1, "capi-fd");
    struct pipe_watch p = {.waited = XASYNC_OK, .unwatched = XASYNC_ERR_PANIC};
    open_pipe(&p);
    OK(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, impatient, &p, &p.watch));
    CHECK(write(p.fds[1], "x", 1) == 1);
    wait_for(&p.calls, 1);
    CHECK(p.waited == XASYNC_ERR_BUSY);
    CHECK(p.unwatched == XASYNC_OK);
    CHECK(write(p.fds[1], "y", 1) == 1);
    xasync_sleep_ms(20);
    CHECK(atomic_load(&p.calls) == 1);
    EXPECT(xasync_fd_unwatch(p.watch), XASYNC_ERR_STALE_HANDLE);
    close_pipe(&p);
    OK(xasync_runtime_destroy(rt));
}

/* A coroutine watches a descriptor and waits on a channel that the
 * callback feeds: the usual way to wait for readiness from a coroutine. */
struct relay {
    int fds[2];
    xasync_channel ready;
};

static void relay_readiness(int fd, uint32_t events, void *user_data) {
    (void)fd;
    struct relay *r = user_data;
    xasync_channel_try_send(r->ready, (void *)(uintptr_t)events);
}

static void *read_when_ready(void *arg) {
    struct relay *r = arg;
    xasync_watch watch;
    OK(xasync_fd_watch(XASYNC_CURRENT_RUNTIME, r->fds[0], XASYNC_READABLE, relay_readiness, r,
                       &watch));
    char buf[16];
    ssize_t n;
    while ((n = read(r->fds[0], buf, sizeof buf)) < 0 && errno == EAGAIN) {
        void *events;
        OK(xasync_channel_recv(r->ready, &events)); /* suspends until readable */
    }
    OK(xasync_fd_unwatch(watch));
    return (void *)(intptr_t)n;
}

static void a_coroutine_waits_for_readiness(void) {
    xasync_runtime rt = runtime_of(2, "capi-fd");
    struct relay r;
    CHECK(pipe(r.fds) == 0);
    CHECK(fcntl(r.fds[0], F_SETFL, O_NONBLOCK) == 0);
    OK(xasync_channel_unbounded(&r.ready));
    xasync_task t;
    OK(xasync_spawn(rt, read_when_ready, &r, &t));
    xasync_sleep_ms(20);
    CHECK(write(r.fds[1], "abc", 3) == 3);
    void *n;
    OK(xasync_await(t, &n));
    CHECK((intptr_t)n == 3);
    OK(xasync_channel_destroy(r.ready));
    close(r.fds[0]);
    close(r.fds[1]);
    OK(xasync_runtime_destroy(rt));
}

static void a_watch_outlives_its_runtime(void) {
    xasync_runtime rt = runtime_of(1, "capi-fd");
    struct pipe_watch p = {0};
    open_pipe(&p);
    OK(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, on_readable, &p, &p.watch));
    OK(xasync_runtime_destroy(rt));
    CHECK(write(p.fds[1], "z", 1) == 1);
    xasync_sleep_ms(10);
    CHECK(atomic_load(&p.calls) == 0); /* no loop left to call it */
    OK(xasync_fd_unwatch(p.watch));    /* still to be released */
    close_pipe(&p);
}

static void bad_input(void) {
    xasync_runtime rt = runtime_of(1, "capi-fd");
    struct pipe_watch p = {0};
    open_pipe(&p);
    xasync_watch w = {5};
    EXPECT(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, NULL, &p, &w), XASYNC_ERR_NULL_POINTER);
    CHECK(w.id == 0);
    EXPECT(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, on_readable, &p, NULL),
           XASYNC_ERR_NULL_POINTER);
    EXPECT(xasync_fd_watch(rt, -1, XASYNC_READABLE, on_readable, &p, &w),
           XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT(xasync_fd_watch(rt, p.fds[0], 0, on_readable, &p, &w), XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT(xasync_fd_watch(rt, p.fds[0], XASYNC_ERROR, on_readable, &p, &w),
           XASYNC_ERR_INVALID_ARGUMENT);
    /* epoll refuses regular files. */
    FILE *file = tmpfile();
    CHECK(file != NULL);
    EXPECT(xasync_fd_watch(rt, fileno(file), XASYNC_READABLE, on_readable, &p, &w),
           XASYNC_ERR_SYSTEM);
    EXPECT_MESSAGE("cannot watch file descriptor");
    fclose(file);
    /* Watching one descriptor twice on one loop. */
    OK(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, on_readable, &p, &w));
    xasync_watch twice;
    EXPECT(xasync_fd_watch(rt, p.fds[0], XASYNC_READABLE, on_readable, &p, &twice),
           XASYNC_ERR_SYSTEM);
    OK(xasync_fd_unwatch(w));
    xasync_watch zero = {0};
    EXPECT(xasync_fd_unwatch(zero), XASYNC_ERR_INVALID_HANDLE);
    xasync_watch not_a_watch = {rt.id};
    EXPECT(xasync_fd_unwatch(not_a_watch), XASYNC_ERR_INVALID_HANDLE);
    EXPECT_MESSAGE("a runtime handle was given where a watch handle is expected");
    close_pipe(&p);
    OK(xasync_runtime_destroy(rt));
}

static void *suite(void *arg) {
    (void)arg;
    RUN(readable_pipe);
    RUN(hang_up_is_reported);
    RUN(writable_pipe);
    RUN(callbacks_cannot_wait_but_can_unwatch);
    RUN(a_coroutine_waits_for_readiness);
    RUN(a_watch_outlives_its_runtime);
    RUN(bad_input);
    DONE("test_fd");
}

MAIN(suite)
