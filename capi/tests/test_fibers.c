/* Fibers from C: the seed's symmetric switching (a counter and a printer
 * that resume each other directly), fibers inside coroutines (where only
 * the base may wait),
 * and every misuse the core would panic on, reported as an error. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>

#include "check.h"

/* The counter and printer of the seed, as fibers of one group. */
struct pair {
    xasync_fiber base, counter, printer;
    int n;
    char line[64];
};

/* Counts to 5, handing each number to the printer; then returns (to the
 * printer, the member that last switched to it). */
static void counter(xasync_fiber me, void *arg) {
    struct pair *p = arg;
    CHECK(me.id == p->counter.id);
    for (int i = 1; i <= 5; i++) {
        p->n = i;
        OK(xasync_fiber_resume_from(p->printer, me));
    }
}

/* Prints each number, switching back to the counter, until the counter has
 * finished; then returns to the base. */
static void printer(xasync_fiber me, void *arg) {
    struct pair *p = arg;
    bool done = false;
    while (!done) {
        size_t len = strlen(p->line);
        snprintf(p->line + len, sizeof p->line - len, "%d ", p->n);
        OK(xasync_fiber_resume_from(p->counter, me));
        OK(xasync_fiber_is_finished(p->counter, &done));
    }
    /* The base never resumed the printer: returning goes to the counter
     * (finished), hence to the base. */
}

static void counter_and_printer_switch_symmetrically(void) {
    struct pair p = {0};
    OK(xasync_fiber_group_create(&p.base));
    OK(xasync_fiber_spawn(p.base, counter, &p, 0, &p.counter));
    OK(xasync_fiber_spawn(p.counter, printer, &p, 16 * 1024, &p.printer));
    OK(xasync_fiber_resume_from(p.counter, p.base));
    CHECK(strcmp(p.line, "1 2 3 4 5 ") == 0);
    bool finished = false;
    OK(xasync_fiber_is_finished(p.printer, &finished));
    CHECK(finished);
    OK(xasync_fiber_is_finished(p.base, &finished));
    CHECK(!finished);
    OK(xasync_fiber_destroy(p.counter));
    OK(xasync_fiber_destroy(p.printer));
    OK(xasync_fiber_destroy(p.base));
}

/* In a coroutine: the fiber may not wait (the coroutine can only be
 * suspended on its own stack), the base may. */
static void would_sleep(xasync_fiber me, void *arg) {
    xasync_fiber base = *(xasync_fiber *)arg;
    EXPECT(xasync_sleep_ms(1), XASYNC_ERR_BUSY);
    EXPECT_MESSAGE("a fiber must not wait");
    EXPECT(xasync_yield(), XASYNC_ERR_BUSY);
    OK(xasync_fiber_resume_from(base, me));
    EXPECT(xasync_sleep_ms(1), XASYNC_ERR_BUSY);
}

static void *fibers_in_a_coroutine(void *arg) {
    (void)arg;
    xasync_fiber base, fiber;
    OK(xasync_fiber_group_create(&base));
    OK(xasync_fiber_spawn(base, would_sleep, &base, 0, &fiber));
    OK(xasync_fiber_resume_from(fiber, base)); /* until it switches back */
    OK(xasync_sleep_ms(5));                    /* the base waits */
    OK(xasync_fiber_resume_from(fiber, base)); /* until it returns */
    OK(xasync_yield());
    OK(xasync_fiber_destroy(fiber));
    OK(xasync_fiber_destroy(base));
    return (void *)1;
}

static void fibers_run_inside_coroutines_but_do_not_wait(void) {
    /* Mapping a fiber's guarded stack takes more than the default 64 KiB
     * of a coroutine's stack in a debug build of the library. */
    xasync_runtime rt = runtime_with(2, NULL, 256 * 1024);
    xasync_task tasks[4];
    for (int i = 0; i < 4; i++) OK(xasync_spawn(rt, fibers_in_a_coroutine, NULL, &tasks[i]));
    for (int i = 0; i < 4; i++) CHECK(xawait(tasks[i]) == (void *)1);
    OK(xasync_runtime_destroy(rt));
}

/* Switches back to the base at once, and is left suspended there. */
static void bounce(xasync_fiber me, void *arg) {
    xasync_fiber base = *(xasync_fiber *)arg;
    /* `base` is not running: the caller is. */
    EXPECT(xasync_fiber_resume_from(me, base), XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT(xasync_fiber_destroy(me), XASYNC_ERR_BUSY); /* running */
    OK(xasync_fiber_resume_from(base, me));
}

static void noop(xasync_fiber me, void *arg) {
    (void)me;
    (void)arg;
}

static xasync_fiber other_threads_fiber;

static void *make_a_group(void *arg) {
    (void)arg;
    OK(xasync_fiber_group_create(&other_threads_fiber));
    return NULL;
}

static void misuse_is_an_error(void) {
    xasync_fiber base, fiber, fresh, other_base, done;
    OK(xasync_fiber_group_create(&base));
    OK(xasync_fiber_spawn(base, bounce, &base, 0, &fiber));
    EXPECT(xasync_fiber_resume_from(base, base), XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT_MESSAGE("itself");
    OK(xasync_fiber_resume_from(fiber, base));
    /* Suspended mid-function: its C frames cannot be unwound. */
    EXPECT(xasync_fiber_destroy(fiber), XASYNC_ERR_BUSY);
    EXPECT_MESSAGE("resume it");

    /* A fiber that never ran is freed at once. */
    OK(xasync_fiber_spawn(base, noop, NULL, 0, &fresh));
    OK(xasync_fiber_destroy(fresh));
    EXPECT(xasync_fiber_destroy(fresh), XASYNC_ERR_STALE_HANDLE);
    EXPECT(xasync_fiber_resume_from(fresh, base), XASYNC_ERR_STALE_HANDLE);

    /* A finished one cannot be resumed. */
    OK(xasync_fiber_spawn(base, noop, NULL, 0, &done));
    OK(xasync_fiber_resume_from(done, base));
    EXPECT(xasync_fiber_resume_from(done, base), XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT_MESSAGE("finished");
    OK(xasync_fiber_destroy(done));

    /* Across groups. */
    OK(xasync_fiber_group_create(&other_base));
    EXPECT(xasync_fiber_resume_from(fiber, other_base), XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT_MESSAGE("different fiber groups");

    /* Another thread's group. */
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, make_a_group, NULL) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    EXPECT(xasync_fiber_spawn(other_threads_fiber, noop, NULL, 0, &fresh),
           XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT_MESSAGE("thread");
    EXPECT(xasync_fiber_destroy(other_threads_fiber), XASYNC_ERR_INVALID_ARGUMENT);

    /* Bad handles and arguments. */
    xasync_fiber zero = {0};
    EXPECT(xasync_fiber_resume_from(zero, base), XASYNC_ERR_INVALID_HANDLE);
    xasync_channel ch;
    OK(xasync_channel_unbounded(&ch));
    xasync_fiber not_a_fiber = {ch.id};
    EXPECT(xasync_fiber_destroy(not_a_fiber), XASYNC_ERR_INVALID_HANDLE);
    EXPECT_MESSAGE("channel");
    OK(xasync_channel_destroy(ch));
    EXPECT(xasync_fiber_spawn(base, NULL, NULL, 0, &fresh), XASYNC_ERR_NULL_POINTER);
    CHECK(fresh.id == 0); /* a failure stores the zero handle */
    EXPECT(xasync_fiber_spawn(base, noop, NULL, (size_t)2 << 30, &fresh),
           XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT(xasync_fiber_group_create(NULL), XASYNC_ERR_NULL_POINTER);

    /* Let the bouncing fiber finish, then release everything. */
    OK(xasync_fiber_resume_from(fiber, base));
    OK(xasync_fiber_destroy(fiber));
    OK(xasync_fiber_destroy(base));
    OK(xasync_fiber_destroy(other_base));
}

static void *suite(void *arg) {
    (void)arg;
    RUN(counter_and_printer_switch_symmetrically);
    RUN(fibers_run_inside_coroutines_but_do_not_wait);
    RUN(misuse_is_an_error);
    DONE("test_fibers");
}

MAIN(suite)
