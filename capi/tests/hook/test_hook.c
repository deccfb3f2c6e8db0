/* The hooks (xasync-ffi built with --features hook): unmodified blocking
 * calls in C coroutines suspend only the coroutine. 50 coroutines on one
 * worker each wait 200 ms in usleep, poll or read (on a pipe that a plain
 * thread writes to after 200 ms); together they take about 200 ms, where a
 * blocked worker would take 10 s. Plain threads keep the real calls. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "../check.h"

#define COROUTINES 50
#define WAIT_MS 200

static int pipes[COROUTINES][2];

/* Lengths the compiler cannot see: built with -O2 -D_FORTIFY_SOURCE=2,
 * the calls below then go to the fortified __read_chk and __poll_chk. */
static volatile size_t one_byte = 1;
static volatile nfds_t one_fd = 1;

static void *sleeper(void *arg) {
    (void)arg;
    CHECK(usleep(WAIT_MS * 1000) == 0);
    return NULL;
}

static void *poller(void *arg) {
    int *fds = arg;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    CHECK(poll(&p, one_fd, WAIT_MS) == 0); /* nothing comes: times out */
    return NULL;
}

static void *reader(void *arg) {
    int *fds = arg;
    char buf[8] = {0};
    CHECK(read(fds[0], buf, one_byte) == 1); /* blocking read, written after 200 ms */
    CHECK(buf[0] == 'x');
    /* The user did not ask for O_NONBLOCK, and does not see it. */
    CHECK((fcntl(fds[0], F_GETFL) & O_NONBLOCK) == 0);
    return NULL;
}

/* A plain thread: its sleep is the real one, then it writes to the pipes
 * of the readers. */
static void *writer(void *arg) {
    (void)arg;
    CHECK(usleep(WAIT_MS * 1000) == 0);
    for (int i = 2; i < COROUTINES; i += 3) {
        CHECK(write(pipes[i][1], "x", 1) == 1);
    }
    return NULL;
}

static void fifty_waits_overlap(void) {
    xasync_runtime rt = runtime_of(1, "capi-hook");
    for (int i = 0; i < COROUTINES; i++) {
        CHECK(pipe(pipes[i]) == 0);
    }
    double start = now_ms();
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, writer, NULL) == 0);
    xasync_task tasks[COROUTINES];
    for (int i = 0; i < COROUTINES; i++) {
        xasync_fn f = i % 3 == 0 ? sleeper : i % 3 == 1 ? poller : reader;
        OK(xasync_spawn(rt, f, pipes[i], &tasks[i]));
    }
    for (int i = 0; i < COROUTINES; i++) {
        OK(xasync_await(tasks[i], NULL));
    }
    double took = now_ms() - start;
    CHECK(pthread_join(thread, NULL) == 0);
    printf("# %d coroutines x %d ms on 1 worker: %.0f ms\n", COROUTINES, WAIT_MS, took);
    fflush(stdout);
    CHECK(took < 1000); /* a blocked worker takes 10 s */
    for (int i = 0; i < COROUTINES; i++) {
        CHECK(close(pipes[i][0]) == 0 && close(pipes[i][1]) == 0);
    }
    OK(xasync_runtime_destroy(rt));
}

/* A hooked call in a fiber of a coroutine's group suspends the coroutine
 * (its fiber's stack with it), as one in the coroutine itself does: ten
 * such coroutines on one worker sleep together. */
static void fiber_sleep(xasync_fiber me, void *arg) {
    (void)me;
    (void)arg;
    CHECK(usleep(WAIT_MS * 1000) == 0);
}

static void *sleeper_in_a_fiber(void *arg) {
    (void)arg;
    xasync_fiber base, fiber;
    OK(xasync_fiber_group_create(&base));
    OK(xasync_fiber_spawn(base, fiber_sleep, NULL, 0, &fiber));
    OK(xasync_fiber_resume_from(fiber, base));
    OK(xasync_fiber_destroy(fiber));
    OK(xasync_fiber_destroy(base));
    return NULL;
}

static void waits_in_fibers_overlap(void) {
    enum { FIBERS = 10 };
    xasync_runtime rt = runtime_of(1, "capi-hook-fibers");
    double start = now_ms();
    xasync_task tasks[FIBERS];
    for (int i = 0; i < FIBERS; i++) {
        OK(xasync_spawn(rt, sleeper_in_a_fiber, NULL, &tasks[i]));
    }
    for (int i = 0; i < FIBERS; i++) {
        OK(xasync_await(tasks[i], NULL));
    }
    double took = now_ms() - start;
    printf("# %d fibers x %d ms on 1 worker: %.0f ms\n", FIBERS, WAIT_MS, took);
    fflush(stdout);
    CHECK(took < FIBERS * WAIT_MS); /* a blocked worker takes 2 s */
    OK(xasync_runtime_destroy(rt));
}

/* Outside coroutines the calls are the real ones: errno included. */
static void plain_threads_get_the_real_calls(void) {
    char byte;
    errno = 0;
    CHECK(read(-1, &byte, 1) == -1 && errno == EBADF);
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
    CHECK(read(fds[0], &byte, 1) == -1 && errno == EAGAIN);
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    double start = now_ms();
    CHECK(poll(&p, 1, 20) == 0);
    CHECK(now_ms() - start >= 19);
    CHECK(close(fds[0]) == 0 && close(fds[1]) == 0);
}

static void *suite(void *arg) {
    (void)arg;
    RUN(fifty_waits_overlap);
    RUN(waits_in_fibers_overlap);
    RUN(plain_threads_get_the_real_calls);
    DONE("test_hook");
}

MAIN(suite)
