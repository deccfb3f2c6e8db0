/* Timer callbacks from C: one-shot and periodic, cancel (before, during and
 * after firing, from the callback itself), detached timers, callbacks that
 * wait, timers outliving their runtime, and bad input. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

static void count(void *user_data) { atomic_fetch_add((atomic_int *)user_data, 1); }

/* Waits (up to 5 s) until `*counter` reaches `n`. */
static void wait_for(atomic_int *counter, int n) {
    for (int i = 0; i < 5000 && atomic_load(counter) < n; i++) {
        xasync_sleep_ms(1);
    }
    CHECK(atomic_load(counter) >= n);
}

static void after_fires_once(void) {
    xasync_runtime rt = runtime_of(1, "capi-timer");
    atomic_int n = 0;
    xasync_timer timer;
    double start = now_ms();
    OK(xasync_timer_after(rt, 20, count, &n, &timer));
    CHECK(timer.id != 0);
    wait_for(&n, 1);
    CHECK(now_ms() - start >= 20); /* never early */
    xasync_sleep_ms(30);
    CHECK(atomic_load(&n) == 1);
    OK(xasync_timer_cancel(timer)); /* releases the fired timer */
    EXPECT(xasync_timer_cancel(timer), XASYNC_ERR_STALE_HANDLE); /* double cancel */
    EXPECT_MESSAGE("this timer handle is stale: it was cancelled already");
    OK(xasync_runtime_destroy(rt));
}

static void every_until_cancelled(void) {
    xasync_runtime rt = runtime_of(2, "capi-timer");
    atomic_int n = 0;
    xasync_timer timer;
    OK(xasync_timer_every(rt, 0, 5, count, &n, &timer));
    wait_for(&n, 4);
    OK(xasync_timer_cancel(timer));
    int seen = atomic_load(&n);
    xasync_sleep_ms(30);
    CHECK(atomic_load(&n) == seen); /* no call after cancel returned */
    OK(xasync_runtime_destroy(rt));
}

static void cancel_before_it_fires(void) {
    xasync_runtime rt = runtime_of(1, "capi-timer");
    atomic_int n = 0;
    xasync_timer once, every;
    OK(xasync_timer_after(rt, 30, count, &n, &once));
    OK(xasync_timer_every(rt, 30, 10, count, &n, &every));
    OK(xasync_timer_cancel(once));
    OK(xasync_timer_cancel(every));
    xasync_sleep_ms(60);
    CHECK(atomic_load(&n) == 0);
    OK(xasync_runtime_destroy(rt));
}

struct self_cancel {
    xasync_timer timer;
    atomic_int calls;
    xasync_status status;
};

static void cancel_myself_on_third_call(void *user_data) {
    struct self_cancel *s = user_data;
    if (atomic_fetch_add(&s->calls, 1) + 1 == 3) {
        s->status = xasync_timer_cancel(s->timer);
    }
}

static void cancel_from_its_own_callback(void) {
    xasync_runtime rt = runtime_of(1, "capi-timer");
    struct self_cancel s = {.calls = 0, .status = XASYNC_ERR_PANIC};
    OK(xasync_timer_every(rt, 20, 2, cancel_myself_on_third_call, &s, &s.timer));
    wait_for(&s.calls, 3);
    xasync_sleep_ms(30);
    CHECK(atomic_load(&s.calls) == 3);
    CHECK(s.status == XASYNC_OK);
    EXPECT(xasync_timer_cancel(s.timer), XASYNC_ERR_STALE_HANDLE);
    OK(xasync_runtime_destroy(rt));
}

static void a_detached_timer_fires(void) {
    xasync_runtime rt = runtime_of(1, "capi-timer");
    atomic_int n = 0;
    OK(xasync_timer_after(rt, 5, count, &n, NULL)); /* no handle: releases itself */
    wait_for(&n, 1);
    OK(xasync_runtime_destroy(rt));
}

struct slow {
    atomic_int inside;
    atomic_int calls;
    xasync_status slept;
    xasync_channel ch;
};

/* A callback that waits: sleeps, then reports through a channel. */
static void slow_callback(void *user_data) {
    struct slow *s = user_data;
    atomic_store(&s->inside, 1);
    s->slept = xasync_sleep_ms(40);
    atomic_fetch_add(&s->calls, 1);
    xasync_channel_try_send(s->ch, (void *)1);
    atomic_store(&s->inside, 0);
}

static void callbacks_may_wait(void) {
    xasync_runtime rt = runtime_of(1, "capi-timer");
    struct slow s = {.slept = XASYNC_ERR_PANIC};
    OK(xasync_channel_unbounded(&s.ch));
    xasync_timer timer;
    OK(xasync_timer_after(rt, 1, slow_callback, &s, &timer));
    void *v;
    OK(xasync_channel_recv_timeout(s.ch, 5000, &v));
    CHECK(s.slept == XASYNC_OK && atomic_load(&s.calls) == 1);
    OK(xasync_timer_cancel(timer));
    OK(xasync_channel_destroy(s.ch));
    OK(xasync_runtime_destroy(rt));
}

static void cancel_waits_for_a_running_callback(void) {
    xasync_runtime rt = runtime_of(2, "capi-timer");
    struct slow s = {.slept = XASYNC_OK};
    OK(xasync_channel_unbounded(&s.ch));
    xasync_timer timer;
    OK(xasync_timer_every(rt, 1, 1000, slow_callback, &s, &timer));
    wait_for(&s.inside, 1); /* the callback is sleeping inside */
    OK(xasync_timer_cancel(timer));
    /* It returned: its sleep was cut short by the cancellation. */
    CHECK(atomic_load(&s.inside) == 0);
    CHECK(s.slept == XASYNC_ERR_CANCELLED);
    CHECK(atomic_load(&s.calls) == 1);
    OK(xasync_channel_destroy(s.ch));
    OK(xasync_runtime_destroy(rt));
}

static void a_timer_handle_outlives_its_runtime(void) {
    xasync_runtime rt = runtime_of(1, "capi-timer");
    atomic_int n = 0;
    xasync_timer timer;
    OK(xasync_timer_every(rt, 0, 2, count, &n, &timer));
    wait_for(&n, 2);
    OK(xasync_runtime_destroy(rt)); /* stops the timer */
    int seen = atomic_load(&n);
    xasync_sleep_ms(10);
    CHECK(atomic_load(&n) == seen);
    OK(xasync_timer_cancel(timer)); /* still to be released */
}

static void *nothing(void *arg) { return arg; }

static void bad_input(void) {
    xasync_runtime rt = runtime_of(1, "capi-timer");
    xasync_timer timer = {77};
    atomic_int n = 0;
    EXPECT(xasync_timer_after(rt, 1, NULL, &n, &timer), XASYNC_ERR_NULL_POINTER);
    EXPECT_MESSAGE("`callback` must not be NULL");
    CHECK(timer.id == 0);
    EXPECT(xasync_timer_every(rt, 1, 0, count, &n, &timer), XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT_MESSAGE("period must not be zero");
    xasync_timer zero = {0};
    EXPECT(xasync_timer_cancel(zero), XASYNC_ERR_INVALID_HANDLE);
    xasync_task t;
    OK(xasync_spawn(rt, nothing, NULL, &t));
    xasync_timer not_a_timer = {t.id};
    EXPECT(xasync_timer_cancel(not_a_timer), XASYNC_ERR_INVALID_HANDLE);
    EXPECT_MESSAGE("a task handle was given where a timer handle is expected");
    OK(xasync_await(t, NULL)); /* unharmed */
    xasync_runtime stale = rt;
    OK(xasync_runtime_destroy(rt));
    EXPECT(xasync_timer_after(stale, 1, count, &n, &timer), XASYNC_ERR_STALE_HANDLE);
    CHECK(atomic_load(&n) == 0);
}

static void *suite(void *arg) {
    (void)arg;
    RUN(after_fires_once);
    RUN(every_until_cancelled);
    RUN(cancel_before_it_fires);
    RUN(cancel_from_its_own_callback);
    RUN(a_detached_timer_fires);
    RUN(callbacks_may_wait);
    RUN(cancel_waits_for_a_running_callback);
    RUN(a_timer_handle_outlives_its_runtime);
    RUN(bad_input);
    DONE("test_timers");
}

MAIN(suite)
