/* A task's function reports a failure with a payload (xasync_task_fail):
 * the awaiter gets XASYNC_ERR_FAILED and the payload; a payload nobody
 * receives (detached, awaited without a result or by xawait, cancelled,
 * by its runtime's destruction too, replaced) is released by its drop
 * function exactly once; outside a task's coroutine the call is refused
 * and the payload stays the caller's. Under valgrind: nothing leaks. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

/* How many payloads the drop function released. */
static atomic_int drops;

/* A payload: a heap int, freed by release_payload. */
static void *payload_of(int value) {
    int *p = malloc(sizeof *p);
    CHECK(p != NULL);
    *p = value;
    return p;
}

static void release_payload(void *payload) {
    free(payload);
    atomic_fetch_add(&drops, 1);
}

/* Reports a failure with payload `arg` (as an int) and returns a result
 * that must be discarded. */
static void *fails(void *arg) {
    OK(xasync_task_fail(payload_of((int)(intptr_t)arg), release_payload));
    return (void *)1;
}

/* Sleeps 20 ms, then fails as `fails`. */
static void *fails_later(void *arg) {
    OK(xasync_sleep_ms(20));
    return fails(arg);
}

/* Waits until `n` payloads were dropped (at most 10 s). */
static void wait_for_drops(int n) {
    double deadline = now_ms() + 10000;
    while (atomic_load(&drops) < n && now_ms() < deadline) OK(xasync_sleep_ms(1));
    CHECK(atomic_load(&drops) == n);
}

static void the_awaiter_receives_the_payload(void) {
    atomic_store(&drops, 0);
    xasync_runtime rt = runtime_of(2, "capi-fail");
    xasync_task t;
    OK(xasync_spawn(rt, fails, (void *)7, &t));
    void *result = NULL;
    EXPECT(xasync_await(t, &result), XASYNC_ERR_FAILED);
    EXPECT_MESSAGE("xasync_await: the task's function reported a failure");
    CHECK(result != NULL && *(int *)result == 7);
    CHECK(atomic_load(&drops) == 0); /* the caller owns it now */
    free(result);
    /* The handle was released. */
    EXPECT(xasync_await(t, NULL), XASYNC_ERR_STALE_HANDLE);
    OK(xasync_runtime_destroy(rt));
    CHECK(atomic_load(&drops) == 0);
}

static void a_payload_nobody_receives_is_dropped(void) {
    atomic_store(&drops, 0);
    xasync_runtime rt = runtime_of(2, "capi-fail");
    xasync_task t;
    /* Awaited without a result. */
    OK(xasync_spawn(rt, fails, (void *)1, &t));
    EXPECT(xasync_await(t, NULL), XASYNC_ERR_FAILED);
    CHECK(atomic_load(&drops) == 1);
    /* Awaited by xawait. */
    OK(xasync_spawn(rt, fails, (void *)2, &t));
    CHECK(xawait(t) == NULL);
    EXPECT(xasync_last_error_code(), XASYNC_ERR_FAILED);
    CHECK(atomic_load(&drops) == 2);
    /* Detached before it fails. */
    OK(xasync_spawn(rt, fails_later, (void *)3, &t));
    OK(xasync_task_detach(t));
    wait_for_drops(3);
    /* Detached after it failed. */
    OK(xasync_spawn(rt, fails, (void *)4, &t));
    bool finished = false;
    while (!finished) OK(xasync_task_is_finished(t, &finished));
    CHECK(atomic_load(&drops) == 3);
    OK(xasync_task_detach(t));
    CHECK(atomic_load(&drops) == 4);
    OK(xasync_runtime_destroy(rt));
}

/* Fails, then waits until cancelled, then returns. */
static void *fails_then_waits(void *arg) {
    (void)arg;
    OK(xasync_task_fail(payload_of(8), release_payload));
    EXPECT(xasync_sleep_ms(60000), XASYNC_ERR_CANCELLED);
    return NULL;
}

static void a_cancelled_tasks_payload_is_dropped(void) {
    atomic_store(&drops, 0);
    xasync_runtime rt = runtime_of(2, "capi-fail");
    xasync_task t;
    OK(xasync_spawn(rt, fails_then_waits, NULL, &t));
    OK(xasync_sleep_ms(20));
    OK(xasync_task_cancel(t));
    void *result = (void *)1;
    EXPECT(xasync_await(t, &result), XASYNC_ERR_CANCELLED);
    CHECK(result == NULL);
    CHECK(atomic_load(&drops) == 1);
    /* Cancelled by its runtime's destruction. */
    OK(xasync_spawn(rt, fails_then_waits, NULL, &t));
    OK(xasync_sleep_ms(20));
    OK(xasync_runtime_destroy(rt));
    EXPECT(xasync_await(t, NULL), XASYNC_ERR_CANCELLED);
    CHECK(atomic_load(&drops) == 2);
}

/* Fails twice: the first payload is dropped at once. */
static void *fails_twice(void *arg) {
    (void)arg;
    OK(xasync_task_fail(payload_of(1), release_payload));
    CHECK(atomic_load(&drops) == 0);
    OK(xasync_task_fail(payload_of(2), release_payload));
    CHECK(atomic_load(&drops) == 1);
    return NULL;
}

static void the_last_failure_wins(void) {
    atomic_store(&drops, 0);
    xasync_runtime rt = runtime_of(1, "capi-fail");
    xasync_task t;
    OK(xasync_spawn(rt, fails_twice, NULL, &t));
    void *result = NULL;
    EXPECT(xasync_await(t, &result), XASYNC_ERR_FAILED);
    CHECK(*(int *)result == 2);
    free(result);
    CHECK(atomic_load(&drops) == 1);
    OK(xasync_runtime_destroy(rt));
}

/* A payload without a drop function is the C program's business. */
static int static_payload = 9;

static void *fails_without_drop(void *arg) {
    (void)arg;
    OK(xasync_task_fail(&static_payload, NULL));
    return NULL;
}

static void a_failure_without_drop_function(void) {
    xasync_runtime rt = runtime_of(1, "capi-fail");
    xasync_task t;
    OK(xasync_spawn(rt, fails_without_drop, NULL, &t));
    void *result = NULL;
    EXPECT(xasync_await(t, &result), XASYNC_ERR_FAILED);
    CHECK(result == &static_payload);
    OK(xasync_spawn(rt, fails_without_drop, NULL, &t));
    OK(xasync_task_detach(t));
    OK(xasync_runtime_destroy(rt));
}

/* What xasync_task_fail returned to a timer callback (-1: not yet). */
static atomic_int timer_status;

/* A timer callback: not a task's coroutine. */
static void timer_tries_to_fail(void *user_data) {
    (void)user_data;
    atomic_store(&timer_status, xasync_task_fail(&static_payload, release_payload));
}

static void only_a_task_can_fail(void) {
    atomic_store(&drops, 0);
    /* A plain thread. */
    EXPECT(xasync_task_fail(&static_payload, release_payload), XASYNC_ERR_BUSY);
    EXPECT_MESSAGE("xasync_task_fail: only the coroutine of a task");
    /* A timer callback. */
    xasync_runtime rt = runtime_of(1, "capi-fail");
    atomic_store(&timer_status, -1);
    xasync_timer timer;
    OK(xasync_timer_after(rt, 1, timer_tries_to_fail, NULL, &timer));
    double deadline = now_ms() + 10000;
    while (atomic_load(&timer_status) == -1 && now_ms() < deadline) OK(xasync_sleep_ms(1));
    OK(xasync_timer_cancel(timer));
    EXPECT((xasync_status)atomic_load(&timer_status), XASYNC_ERR_BUSY);
    OK(xasync_runtime_destroy(rt));
    /* Refused: the payload was not dropped. */
    CHECK(atomic_load(&drops) == 0);
}

static void the_status_has_a_name(void) {
    CHECK(strcmp(xasync_status_name(XASYNC_ERR_FAILED), "XASYNC_ERR_FAILED") == 0);
}

static void *suite(void *arg) {
    (void)arg;
    RUN(the_awaiter_receives_the_payload);
    RUN(a_payload_nobody_receives_is_dropped);
    RUN(a_cancelled_tasks_payload_is_dropped);
    RUN(the_last_failure_wins);
    RUN(a_failure_without_drop_function);
    RUN(only_a_task_can_fail);
    RUN(the_status_has_a_name);
    DONE("test_task_fail");
}

MAIN(suite)
