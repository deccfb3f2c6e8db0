/* The seed's shape with no setup: xasync(f, arg) and xawait(task) on the
 * default runtime, which starts on first use and lives until the process
 * exits (see valgrind.supp for what that means under valgrind). Also
 * XASYNC_CURRENT_RUNTIME for timers from a plain thread. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

static void *long_time_action(void *arg) {
    if (xasync_sleep_ms(30) != XASYNC_OK) {
        return NULL;
    }
    return (void *)((intptr_t)arg + 1);
}

static void xasync_then_xawait(void) {
    double start = now_ms();
    xasync_task a = xasync(long_time_action, (void *)1);
    xasync_task b = xasync(long_time_action, (void *)2);
    CHECK(a.id != 0 && b.id != 0);
    CHECK((intptr_t)xawait(a) == 2);
    CHECK((intptr_t)xawait(b) == 3);
    /* A hang guard only (valgrind on a loaded machine took over 1 s from
     * the default runtime's start): that the sleeps overlap is checked by
     * test_tasks' sleeping_coroutines_do_not_block_the_worker. */
    CHECK(now_ms() - start < 20000);
    CHECK(xawait(a) == NULL); /* awaited already */
    CHECK(xasync_last_error_code() == XASYNC_ERR_STALE_HANDLE);
}

static void *spawn_child(void *arg) {
    /* Inside a coroutine of the default runtime: the child goes there too. */
    xasync_task child = xasync(long_time_action, arg);
    return xawait(child);
}

static void nested(void) {
    CHECK((intptr_t)xawait(xasync(spawn_child, (void *)40)) == 41);
}

static void tick(void *user_data) { atomic_fetch_add((atomic_int *)user_data, 1); }

static void timer_on_the_default_runtime(void) {
    atomic_int n = 0;
    xasync_timer timer;
    OK(xasync_timer_every(XASYNC_CURRENT_RUNTIME, 0, 2, tick, &n, &timer));
    for (int i = 0; i < 5000 && atomic_load(&n) < 3; i++) {
        xasync_sleep_ms(1);
    }
    OK(xasync_timer_cancel(timer));
    CHECK(atomic_load(&n) >= 3);
}

static void *suite(void *arg) {
    (void)arg;
    RUN(xasync_then_xawait);
    RUN(nested);
    RUN(timer_on_the_default_runtime);
    DONE("test_default");
}

MAIN(suite)
