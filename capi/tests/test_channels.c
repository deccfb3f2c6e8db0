/* Channels of void * from C: bounded, unbounded and rendezvous; waiting,
 * non-waiting and timed operations from threads and coroutines; close and
 * destroy; bad input (invalid and stale handles, double destroy, closed
 * channels, NULL pointers); ownership of heap values passed through. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

static void unbounded_keeps_order(void) {
    xasync_channel ch;
    OK(xasync_channel_unbounded(&ch));
    for (intptr_t i = 0; i < 100; i++) {
        OK(xasync_channel_send(ch, (void *)i)); /* never waits */
    }
    size_t len;
    OK(xasync_channel_len(ch, &len));
    CHECK(len == 100);
    for (intptr_t i = 0; i < 100; i++) {
        void *v;
        OK(xasync_channel_recv(ch, &v));
        CHECK((intptr_t)v == i);
    }
    void *v = (void *)1;
    EXPECT(xasync_channel_try_recv(ch, &v), XASYNC_ERR_EMPTY);
    CHECK(v == NULL);
    OK(xasync_channel_destroy(ch));
}

static void bounded_try_operations(void) {
    xasync_channel ch;
    OK(xasync_channel_bounded(2, &ch));
    OK(xasync_channel_try_send(ch, (void *)1));
    OK(xasync_channel_try_send(ch, (void *)2));
    EXPECT(xasync_channel_try_send(ch, (void *)3), XASYNC_ERR_FULL);
    EXPECT_MESSAGE("xasync_channel_try_send: the channel is full");
    void *v;
    OK(xasync_channel_try_recv(ch, &v));
    CHECK((intptr_t)v == 1);
    OK(xasync_channel_try_send(ch, (void *)3));
    OK(xasync_channel_try_recv(ch, &v));
    CHECK((intptr_t)v == 2);
    OK(xasync_channel_try_recv(ch, &v));
    CHECK((intptr_t)v == 3);
    OK(xasync_channel_destroy(ch));
}

static void timeouts(void) {
    xasync_channel ch;
    OK(xasync_channel_bounded(1, &ch));
    double start = now_ms();
    void *v = (void *)1;
    EXPECT(xasync_channel_recv_timeout(ch, 20, &v), XASYNC_ERR_TIMED_OUT);
    CHECK(v == NULL && now_ms() - start >= 20);
    OK(xasync_channel_send_timeout(ch, (void *)1, 20)); /* room: no wait */
    start = now_ms();
    EXPECT(xasync_channel_send_timeout(ch, (void *)2, 20), XASYNC_ERR_TIMED_OUT);
    CHECK(now_ms() - start >= 20);
    size_t len;
    OK(xasync_channel_len(ch, &len));
    CHECK(len == 1); /* the timed-out value was not sent */
    OK(xasync_channel_recv_timeout(ch, 20, &v));
    CHECK((intptr_t)v == 1);
    OK(xasync_channel_destroy(ch));
}

static void *receive_one(void *arg) {
    void *v = NULL;
    OK(xasync_channel_recv(*(xasync_channel *)arg, &v));
    return v;
}

static void rendezvous(void) {
    xasync_runtime rt = runtime_of(1, "capi-chan");
    xasync_channel ch;
    OK(xasync_channel_bounded(0, &ch));
    EXPECT(xasync_channel_try_send(ch, (void *)1), XASYNC_ERR_FULL); /* no receiver */
    xasync_task t;
    OK(xasync_spawn(rt, receive_one, &ch, &t));
    OK(xasync_channel_send(ch, (void *)42)); /* completes when the coroutine takes it */
    CHECK((intptr_t)xawait(t) == 42);
    OK(xasync_channel_destroy(ch));
    OK(xasync_runtime_destroy(rt));
}

static void close_drains_then_reports_closed(void) {
    xasync_channel ch;
    OK(xasync_channel_bounded(4, &ch));
    OK(xasync_channel_send(ch, (void *)1));
    OK(xasync_channel_send(ch, (void *)2));
    OK(xasync_channel_close(ch));
    EXPECT(xasync_channel_close(ch), XASYNC_ERR_CLOSED);
    EXPECT(xasync_channel_send(ch, (void *)3), XASYNC_ERR_CLOSED);
    EXPECT(xasync_channel_try_send(ch, (void *)3), XASYNC_ERR_CLOSED);
    EXPECT(xasync_channel_send_timeout(ch, (void *)3, 10), XASYNC_ERR_CLOSED);
    void *v;
    OK(xasync_channel_recv(ch, &v));
    CHECK((intptr_t)v == 1);
    OK(xasync_channel_try_recv(ch, &v));
    CHECK((intptr_t)v == 2);
    EXPECT(xasync_channel_recv(ch, &v), XASYNC_ERR_CLOSED);
    EXPECT_MESSAGE("closed and empty");
    EXPECT(xasync_channel_try_recv(ch, &v), XASYNC_ERR_CLOSED);
    EXPECT(xasync_channel_recv_timeout(ch, 10, &v), XASYNC_ERR_CLOSED);
    OK(xasync_channel_destroy(ch));
}

struct waiter {
    xasync_channel ch;
    atomic_int status;
    atomic_int started; /* set just before the waiting call */
};

static void *wait_to_recv(void *arg) {
    struct waiter *w = arg;
    void *v;
    atomic_store(&w->started, 1);
    atomic_store(&w->status, xasync_channel_recv(w->ch, &v));
    return NULL;
}

static void *wait_to_send(void *arg) {
    struct waiter *w = arg;
    atomic_store(&w->started, 1);
    atomic_store(&w->status, xasync_channel_send(w->ch, (void *)2));
    return NULL;
}

static void destroy_wakes_the_waiters(void) {
    xasync_runtime rt = runtime_of(2, "capi-chan");
    struct waiter r = {.status = 1}, s = {.status = 1};
    OK(xasync_channel_unbounded(&r.ch));
    OK(xasync_channel_bounded(1, &s.ch));
    OK(xasync_channel_send(s.ch, (void *)1)); /* full: the next send waits */
    xasync_task receiver, sender;
    OK(xasync_spawn(rt, wait_to_recv, &r, &receiver));
    OK(xasync_spawn(rt, wait_to_send, &s, &sender));
    /* A plain thread waits too. */
    struct waiter t = {.status = 1};
    OK(xasync_channel_unbounded(&t.ch));
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, wait_to_recv, &t) == 0);
    /* Destroying a channel before a waiter reached it would make its call
     * fail with a stale handle instead: wait for all three to be about to
     * wait (under valgrind a coroutine once took longer than a fixed
     * 20 ms to start), then give them time to get into the wait. */
    while (!atomic_load(&r.started) || !atomic_load(&s.started) || !atomic_load(&t.started)) {
        xasync_sleep_ms(1);
    }
    xasync_sleep_ms(20);
    CHECK(atomic_load(&r.status) == 1 && atomic_load(&s.status) == 1);
    OK(xasync_channel_destroy(r.ch));
    OK(xasync_channel_destroy(s.ch));
    OK(xasync_channel_destroy(t.ch));
    OK(xasync_await(receiver, NULL));
    OK(xasync_await(sender, NULL));
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(atomic_load(&r.status) == XASYNC_ERR_CLOSED);
    CHECK(atomic_load(&s.status) == XASYNC_ERR_CLOSED);
    CHECK(atomic_load(&t.status) == XASYNC_ERR_CLOSED);
    OK(xasync_runtime_destroy(rt));
}

static void bad_handles_and_pointers(void) {
    xasync_channel ch;
    OK(xasync_channel_unbounded(&ch));
    OK(xasync_channel_destroy(ch));
    EXPECT(xasync_channel_destroy(ch), XASYNC_ERR_STALE_HANDLE); /* double destroy */
    EXPECT_MESSAGE("this channel handle is stale: it was destroyed already");
    void *v;
    EXPECT(xasync_channel_send(ch, NULL), XASYNC_ERR_STALE_HANDLE);
    EXPECT(xasync_channel_try_send(ch, NULL), XASYNC_ERR_STALE_HANDLE);
    EXPECT(xasync_channel_recv(ch, &v), XASYNC_ERR_STALE_HANDLE);
    EXPECT(xasync_channel_try_recv(ch, &v), XASYNC_ERR_STALE_HANDLE);
    EXPECT(xasync_channel_close(ch), XASYNC_ERR_STALE_HANDLE);
    size_t len;
    EXPECT(xasync_channel_len(ch, &len), XASYNC_ERR_STALE_HANDLE);

    xasync_channel zero = {0};
    EXPECT(xasync_channel_send(zero, NULL), XASYNC_ERR_INVALID_HANDLE);
    xasync_channel forged = {0xdeadbeef};
    EXPECT(xasync_channel_recv_timeout(forged, 1, &v), XASYNC_ERR_INVALID_HANDLE);
    xasync_runtime rt = runtime_of(1, "capi-chan");
    xasync_channel not_a_channel = {rt.id};
    EXPECT(xasync_channel_destroy(not_a_channel), XASYNC_ERR_INVALID_HANDLE);
    EXPECT_MESSAGE("a runtime handle was given where a channel handle is expected");
    OK(xasync_runtime_destroy(rt)); /* unharmed */

    EXPECT(xasync_channel_unbounded(NULL), XASYNC_ERR_NULL_POINTER);
    EXPECT(xasync_channel_bounded(1, NULL), XASYNC_ERR_NULL_POINTER);
    OK(xasync_channel_unbounded(&ch));
    OK(xasync_channel_send(ch, (void *)1));
    EXPECT(xasync_channel_recv(ch, NULL), XASYNC_ERR_NULL_POINTER);
    EXPECT(xasync_channel_try_recv(ch, NULL), XASYNC_ERR_NULL_POINTER);
    EXPECT(xasync_channel_recv_timeout(ch, 1, NULL), XASYNC_ERR_NULL_POINTER);
    EXPECT(xasync_channel_len(ch, NULL), XASYNC_ERR_NULL_POINTER);
    OK(xasync_channel_len(ch, &len));
    CHECK(len == 1); /* a refused receive took nothing */
    OK(xasync_channel_destroy(ch));
}

/* Producers and consumers: coroutines on two workers and a plain thread,
 * over a small bounded channel; heap values whose ownership passes to the
 * receiver (valgrind checks that every one is freed exactly once). */
enum { PRODUCERS = 4, CONSUMERS = 3, PER_PRODUCER = 500 };

struct plan {
    xasync_channel ch;
    atomic_long sum;
    atomic_int received;
};

static struct plan plan;

static void *produce(void *arg) {
    intptr_t base = (intptr_t)arg * PER_PRODUCER;
    for (intptr_t i = 1; i <= PER_PRODUCER; i++) {
        long *value = malloc(sizeof *value);
        CHECK(value != NULL);
        *value = base + i;
        if (xasync_channel_send(plan.ch, value) != XASYNC_OK) {
            free(value); /* not sent: still ours */
            return (void *)-1;
        }
    }
    return NULL;
}

static void *consume(void *arg) {
    (void)arg;
    void *v;
    while (xasync_channel_recv(plan.ch, &v) == XASYNC_OK) {
        atomic_fetch_add(&plan.sum, *(long *)v);
        atomic_fetch_add(&plan.received, 1);
        free(v); /* received: ours now */
    }
    return NULL;
}

static void producers_and_consumers(void) {
    xasync_runtime rt = runtime_of(2, "capi-chan");
    OK(xasync_channel_bounded(8, &plan.ch));
    xasync_task producers[PRODUCERS], consumers[CONSUMERS];
    for (intptr_t i = 0; i < PRODUCERS - 1; i++) {
        OK(xasync_spawn(rt, produce, (void *)i, &producers[i]));
    }
    pthread_t thread; /* the last producer is a plain thread */
    CHECK(pthread_create(&thread, NULL, produce, (void *)(intptr_t)(PRODUCERS - 1)) == 0);
    for (int i = 0; i < CONSUMERS; i++) {
        OK(xasync_spawn(rt, consume, NULL, &consumers[i]));
    }
    for (int i = 0; i < PRODUCERS - 1; i++) {
        void *r;
        OK(xasync_await(producers[i], &r));
        CHECK(r == NULL);
    }
    void *r;
    CHECK(pthread_join(thread, &r) == 0 && r == NULL);
    OK(xasync_channel_close(plan.ch));
    for (int i = 0; i < CONSUMERS; i++) {
        OK(xasync_await(consumers[i], NULL));
    }
    long n = PRODUCERS * PER_PRODUCER;
    CHECK(atomic_load(&plan.received) == n);
    CHECK(atomic_load(&plan.sum) == n * (n + 1) / 2);
    OK(xasync_channel_destroy(plan.ch));
    OK(xasync_runtime_destroy(rt));
}

struct cancelled_send {
    xasync_channel ch;
    atomic_int started;
    xasync_status status;
};

static void *send_into_full(void *arg) {
    struct cancelled_send *c = arg;
    atomic_store(&c->started, 1);
    c->status = xasync_channel_send(c->ch, (void *)2);
    return NULL;
}

static void a_cancelled_send_does_not_deliver(void) {
    xasync_runtime rt = runtime_of(1, "capi-chan");
    struct cancelled_send c = {.status = XASYNC_OK};
    OK(xasync_channel_bounded(1, &c.ch));
    OK(xasync_channel_send(c.ch, (void *)1));
    xasync_task t;
    OK(xasync_spawn(rt, send_into_full, &c, &t));
    while (!atomic_load(&c.started)) {
        xasync_sleep_ms(1);
    }
    xasync_sleep_ms(10);
    OK(xasync_task_cancel(t));
    EXPECT(xasync_await(t, NULL), XASYNC_ERR_CANCELLED);
    CHECK(c.status == XASYNC_ERR_CANCELLED); /* so the sender still owns the value */
    void *v;
    OK(xasync_channel_try_recv(c.ch, &v));
    CHECK((intptr_t)v == 1);
    EXPECT(xasync_channel_try_recv(c.ch, &v), XASYNC_ERR_EMPTY);
    OK(xasync_channel_destroy(c.ch));
    OK(xasync_runtime_destroy(rt));
}

static void *suite(void *arg) {
    (void)arg;
    RUN(unbounded_keeps_order);
    RUN(bounded_try_operations);
    RUN(timeouts);
    RUN(rendezvous);
    RUN(close_drains_then_reports_closed);
    RUN(destroy_wakes_the_waiters);
    RUN(bad_handles_and_pointers);
    RUN(producers_and_consumers);
    RUN(a_cancelled_send_does_not_deliver);
    DONE("test_channels");
}

MAIN(suite)
