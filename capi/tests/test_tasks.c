/* Coroutines from C: spawn, await, cancel, detach, sleep, yield, runtimes,
 * and bad input (invalid and stale handles, double destroy, second await,
 * NULL pointers). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

static void *twice(void *arg) { return (void *)((intptr_t)arg * 2); }

static void spawn_and_await(void) {
    xasync_runtime rt = runtime_of(2, "capi-tasks");
    xasync_task t;
    OK(xasync_spawn(rt, twice, (void *)21, &t));
    CHECK(t.id != 0);
    void *result = NULL;
    OK(xasync_await(t, &result));
    CHECK((intptr_t)result == 42);
    OK(xasync_spawn(rt, twice, (void *)4, &t));
    OK(xasync_await(t, NULL)); /* the result may be ignored */
    OK(xasync_runtime_destroy(rt));
}

static void many_tasks(void) {
    xasync_runtime rt = runtime_of(2, "capi-tasks");
    enum { N = 2000 };
    static xasync_task tasks[N];
    for (intptr_t i = 0; i < N; i++) {
        OK(xasync_spawn(rt, twice, (void *)i, &tasks[i]));
    }
    for (intptr_t i = 0; i < N; i++) {
        void *r;
        OK(xasync_await(tasks[i], &r));
        CHECK((intptr_t)r == 2 * i);
    }
    OK(xasync_runtime_destroy(rt));
}

/* Runs in a child coroutine: returns 1 if its worker thread is one of the
 * runtime named "capi-nested". */
static void *on_which_runtime(void *arg) {
    (void)arg;
    char name[16] = {0};
    pthread_getname_np(pthread_self(), name, sizeof name);
    return (void *)(intptr_t)(strncmp(name, "capi-nested", 11) == 0);
}

static void *parent(void *arg) {
    (void)arg;
    xasync_task children[8];
    for (int i = 0; i < 8; i++) {
        /* XASYNC_CURRENT_RUNTIME inside a coroutine: its own runtime. */
        OK(xasync_spawn(XASYNC_CURRENT_RUNTIME, on_which_runtime, NULL, &children[i]));
    }
    intptr_t here = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        OK(xasync_await(children[i], &r)); /* suspends the parent */
        here += (intptr_t)r;
    }
    return (void *)here;
}

static void nested_spawn_uses_the_current_runtime(void) {
    xasync_runtime rt = runtime_of(2, "capi-nested");
    xasync_task t;
    OK(xasync_spawn(rt, parent, NULL, &t));
    void *r;
    OK(xasync_await(t, &r));
    CHECK((intptr_t)r == 8);
    OK(xasync_runtime_destroy(rt));
}

/* Sleeps `arg` ms; how long it slept, or -1 if cancelled. */
static void *sleeper(void *arg) {
    double start = now_ms();
    if (xasync_sleep_ms((uint64_t)(intptr_t)arg) != XASYNC_OK) {
        return (void *)-1;
    }
    return (void *)(intptr_t)(now_ms() - start);
}

static void sleeping_coroutines_do_not_block_the_worker(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    double start = now_ms();
    xasync_task t[20];
    for (int i = 0; i < 20; i++) {
        OK(xasync_spawn(rt, sleeper, (void *)200, &t[i]));
    }
    for (int i = 0; i < 20; i++) {
        void *slept;
        OK(xasync_await(t[i], &slept));
        CHECK((intptr_t)slept >= 200);
    }
    /* 20 sleeps of 200 ms on one worker: concurrent, not 4 s (the margin
     * is for valgrind on a loaded machine). */
    CHECK(now_ms() - start < 2000);
    OK(xasync_runtime_destroy(rt));
}

static char trace[64];
static atomic_int trace_len;

static void *yielder(void *arg) {
    for (int i = 0; i < 4; i++) {
        trace[atomic_fetch_add(&trace_len, 1)] = *(const char *)arg;
        OK(xasync_yield());
    }
    return NULL;
}

/* Starts both yielders from inside the runtime, so that both are queued
 * before either runs. */
static void *two_yielders(void *arg) {
    (void)arg;
    xasync_task a, b;
    OK(xasync_spawn(XASYNC_CURRENT_RUNTIME, yielder, "a", &a));
    OK(xasync_spawn(XASYNC_CURRENT_RUNTIME, yielder, "b", &b));
    OK(xasync_await(a, NULL));
    OK(xasync_await(b, NULL));
    return NULL;
}

static void yield_lets_the_other_coroutine_run(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    atomic_store(&trace_len, 0);
    memset(trace, 0, sizeof trace);
    xasync_task t;
    OK(xasync_spawn(rt, two_yielders, NULL, &t));
    OK(xasync_await(t, NULL));
    CHECK(atomic_load(&trace_len) == 8);
    /* One worker: they alternate ("abababab" or "babababa"). */
    if (strstr(trace, "aa") != NULL || strstr(trace, "bb") != NULL) {
        fprintf(stderr, "yield did not alternate: %s\n", trace);
        abort();
    }
    OK(xasync_yield()); /* on a plain thread: yields the thread */
    OK(xasync_runtime_destroy(rt));
}

static void await_twice_and_detach_are_detected(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_task t;
    OK(xasync_spawn(rt, twice, (void *)1, &t));
    OK(xasync_await(t, NULL));
    void *r = (void *)1;
    EXPECT(xasync_await(t, &r), XASYNC_ERR_STALE_HANDLE);
    CHECK(r == NULL);
    EXPECT_MESSAGE("xasync_await: this task handle is stale");
    EXPECT(xasync_task_detach(t), XASYNC_ERR_STALE_HANDLE);
    EXPECT(xasync_task_cancel(t), XASYNC_ERR_STALE_HANDLE);
    CHECK(xawait(t) == NULL);
    CHECK(xasync_last_error_code() == XASYNC_ERR_STALE_HANDLE);

    OK(xasync_spawn(rt, twice, (void *)1, &t));
    OK(xasync_task_detach(t));
    EXPECT(xasync_task_detach(t), XASYNC_ERR_STALE_HANDLE); /* double free */
    EXPECT(xasync_await(t, NULL), XASYNC_ERR_STALE_HANDLE);
    OK(xasync_runtime_destroy(rt));
}

static xasync_channel to_child, from_child;

/* Receives a pointer to its own handle, awaits it, and sends back the
 * status. */
static void *await_myself(void *arg) {
    (void)arg;
    void *mine;
    OK(xasync_channel_recv(to_child, &mine));
    void *r = (void *)1;
    xasync_status status = xasync_await(*(xasync_task *)mine, &r);
    CHECK(r == NULL);
    if (status == XASYNC_ERR_DEADLOCK) {
        EXPECT_MESSAGE("xasync_await: a coroutine cannot await its own task");
    }
    OK(xasync_channel_send(from_child, (void *)(intptr_t)status));
    return NULL;
}

static void awaiting_its_own_task_is_reported(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    OK(xasync_channel_bounded(1, &to_child));
    OK(xasync_channel_bounded(1, &from_child));
    xasync_task t;
    OK(xasync_spawn(rt, await_myself, NULL, &t));
    OK(xasync_channel_send(to_child, &t));
    /* Bounded: a coroutine that awaits itself used to wait forever. */
    void *status;
    OK(xasync_channel_recv_timeout(from_child, 10000, &status));
    EXPECT((xasync_status)(intptr_t)status, XASYNC_ERR_DEADLOCK);
    OK(xasync_await(t, NULL)); /* the handle stayed valid */
    OK(xasync_channel_destroy(to_child));
    OK(xasync_channel_destroy(from_child));
    OK(xasync_runtime_destroy(rt));
}

static atomic_int detached_ran;

static void *set_flag_later(void *arg) {
    (void)arg;
    xasync_sleep_ms(10);
    atomic_store(&detached_ran, 1);
    return NULL;
}

static void a_detached_task_runs_on(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_task t;
    OK(xasync_spawn(rt, set_flag_later, NULL, &t));
    OK(xasync_task_detach(t));
    for (int i = 0; i < 500 && !atomic_load(&detached_ran); i++) {
        xasync_sleep_ms(2);
    }
    CHECK(atomic_load(&detached_ran));
    OK(xasync_runtime_destroy(rt));
}

/* What a cancelled coroutine saw. */
struct cancel_log {
    atomic_int started;
    xasync_status first, second, yielded, awaited;
    double second_took_ms;
    xasync_status try_send;
    atomic_int returned;
};

static void *until_cancelled(void *arg) {
    struct cancel_log *log = arg;
    atomic_store(&log->started, 1);
    log->first = xasync_sleep_ms(60000);
    double start = now_ms();
    log->second = xasync_sleep_ms(60000); /* returns at once: already cancelled */
    log->second_took_ms = now_ms() - start;
    log->yielded = xasync_yield();
    xasync_task child;
    OK(xasync_spawn(XASYNC_CURRENT_RUNTIME, twice, (void *)1, &child)); /* non-waiting: works */
    log->awaited = xasync_await(child, NULL);                          /* waiting: refused */
    OK(xasync_task_detach(child)); /* the handle was not consumed */
    xasync_channel ch;
    OK(xasync_channel_unbounded(&ch));
    log->try_send = xasync_channel_try_send(ch, NULL);
    OK(xasync_channel_destroy(ch));
    atomic_store(&log->returned, 1);
    return (void *)1; /* discarded: the task was cancelled */
}

static void cancelling_a_sleeping_coroutine(void) {
    xasync_runtime rt = runtime_of(2, "capi-tasks");
    struct cancel_log log = {0};
    xasync_task t;
    OK(xasync_spawn(rt, until_cancelled, &log, &t));
    while (!atomic_load(&log.started)) {
        xasync_sleep_ms(1);
    }
    xasync_sleep_ms(5); /* let it reach the first sleep */
    bool finished = true;
    OK(xasync_task_is_finished(t, &finished));
    CHECK(!finished);
    OK(xasync_task_cancel(t));
    OK(xasync_task_cancel(t)); /* cancelling again is harmless; the handle stays valid */
    void *r = (void *)7;
    EXPECT(xasync_await(t, &r), XASYNC_ERR_CANCELLED);
    CHECK(r == NULL);
    EXPECT_MESSAGE("cancelled");
    CHECK(atomic_load(&log.returned)); /* the C function ran to its return */
    CHECK(log.first == XASYNC_ERR_CANCELLED);
    CHECK(log.second == XASYNC_ERR_CANCELLED && log.second_took_ms < 30000); /* not the 60 s sleep */
    CHECK(log.yielded == XASYNC_ERR_CANCELLED);
    CHECK(log.awaited == XASYNC_ERR_CANCELLED);
    CHECK(log.try_send == XASYNC_OK);
    EXPECT(xasync_await(t, NULL), XASYNC_ERR_STALE_HANDLE);
    OK(xasync_runtime_destroy(rt));
}

static atomic_int spin_release, never_ran;

static void *spin(void *arg) {
    (void)arg;
    while (!atomic_load(&spin_release)) {
    }
    return NULL;
}

static void *must_not_run(void *arg) {
    (void)arg;
    atomic_store(&never_ran, 1);
    return NULL;
}

static void a_cancelled_unstarted_task_never_runs(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_task busy, victim;
    OK(xasync_spawn(rt, spin, NULL, &busy)); /* occupies the only worker */
    xasync_sleep_ms(5);
    OK(xasync_spawn(rt, must_not_run, NULL, &victim));
    OK(xasync_task_cancel(victim));
    atomic_store(&spin_release, 1);
    OK(xasync_await(busy, NULL));
    EXPECT(xasync_await(victim, NULL), XASYNC_ERR_CANCELLED);
    CHECK(!atomic_load(&never_ran));
    OK(xasync_runtime_destroy(rt));
}

static void *recv_one(void *arg) {
    void *v;
    xasync_channel_recv(*(xasync_channel *)arg, &v);
    return v;
}

static void is_finished_tracks_the_task(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_channel ch;
    OK(xasync_channel_unbounded(&ch));
    xasync_task t;
    OK(xasync_spawn(rt, recv_one, &ch, &t));
    bool finished = true;
    OK(xasync_task_is_finished(t, &finished));
    CHECK(!finished);
    OK(xasync_channel_send(ch, (void *)5));
    for (int i = 0; i < 1000 && !finished; i++) {
        OK(xasync_task_is_finished(t, &finished));
        xasync_sleep_ms(1);
    }
    CHECK(finished);
    CHECK((intptr_t)xawait(t) == 5);
    EXPECT(xasync_task_is_finished(t, &finished), XASYNC_ERR_STALE_HANDLE);
    OK(xasync_channel_destroy(ch));
    OK(xasync_runtime_destroy(rt));
}

static void invalid_handles_are_reported(void) {
    xasync_task zero = {0};
    EXPECT(xasync_await(zero, NULL), XASYNC_ERR_INVALID_HANDLE);
    EXPECT_MESSAGE("zero task handle");
    EXPECT(xasync_task_cancel(zero), XASYNC_ERR_INVALID_HANDLE);
    EXPECT(xasync_task_detach(zero), XASYNC_ERR_INVALID_HANDLE);
    bool finished;
    EXPECT(xasync_task_is_finished(zero, &finished), XASYNC_ERR_INVALID_HANDLE);
    xasync_task forged = {0x123456789abcdefULL};
    EXPECT(xasync_await(forged, NULL), XASYNC_ERR_INVALID_HANDLE);
    xasync_task random_bits = {UINT64_MAX};
    EXPECT(xasync_task_cancel(random_bits), XASYNC_ERR_INVALID_HANDLE);

    /* A handle of another kind, smuggled through its id. */
    xasync_channel ch;
    OK(xasync_channel_unbounded(&ch));
    xasync_task not_a_task = {ch.id};
    EXPECT(xasync_await(not_a_task, NULL), XASYNC_ERR_INVALID_HANDLE);
    EXPECT_MESSAGE("a channel handle was given where a task handle is expected");
    OK(xasync_channel_try_send(ch, NULL)); /* the channel is unharmed */
    OK(xasync_channel_destroy(ch));

    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_task t;
    OK(xasync_spawn(rt, twice, (void *)1, &t));
    xasync_task next = {t.id + ((uint64_t)1 << 32)}; /* a generation not issued yet */
    EXPECT(xasync_await(next, NULL), XASYNC_ERR_INVALID_HANDLE);
    xasync_runtime not_a_runtime = {t.id};
    xasync_task u;
    EXPECT(xasync_spawn(not_a_runtime, twice, NULL, &u), XASYNC_ERR_INVALID_HANDLE);
    CHECK(u.id == 0);
    OK(xasync_await(t, NULL));
    OK(xasync_runtime_destroy(rt));
}

static void null_pointers_are_reported(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_task t = {99};
    EXPECT(xasync_spawn(rt, NULL, NULL, &t), XASYNC_ERR_NULL_POINTER);
    EXPECT_MESSAGE("`f` must not be NULL");
    CHECK(t.id == 0);
    EXPECT(xasync_spawn(rt, twice, NULL, NULL), XASYNC_ERR_NULL_POINTER);
    xasync_task none = xasync(NULL, NULL);
    CHECK(none.id == 0 && xasync_last_error_code() == XASYNC_ERR_NULL_POINTER);
    OK(xasync_spawn(rt, twice, NULL, &t));
    EXPECT(xasync_task_is_finished(t, NULL), XASYNC_ERR_NULL_POINTER);
    OK(xasync_await(t, NULL));
    EXPECT(xasync_runtime_create(NULL, NULL), XASYNC_ERR_NULL_POINTER);
    EXPECT(xasync_runtime_config_init(NULL), XASYNC_ERR_NULL_POINTER);
    OK(xasync_runtime_destroy(rt));
}

static void *destroy_my_runtime(void *arg) {
    return (void *)(intptr_t)xasync_runtime_destroy(*(xasync_runtime *)arg);
}

static void runtime_misuse_is_reported(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_task t;
    OK(xasync_spawn(rt, destroy_my_runtime, &rt, &t));
    void *status;
    OK(xasync_await(t, &status));
    CHECK((xasync_status)(intptr_t)status == XASYNC_ERR_BUSY);
    OK(xasync_runtime_destroy(rt));
    EXPECT(xasync_runtime_destroy(rt), XASYNC_ERR_STALE_HANDLE); /* double destroy */
    EXPECT_MESSAGE("runtime handle is stale: it was destroyed already");
    EXPECT(xasync_spawn(rt, twice, NULL, &t), XASYNC_ERR_STALE_HANDLE);
    xasync_runtime zero = {0};
    EXPECT(xasync_runtime_destroy(zero), XASYNC_ERR_INVALID_HANDLE);

    xasync_runtime_config config;
    OK(xasync_runtime_config_init(&config));
    CHECK(config.workers == 0 && config.stack_size == 0 && config.thread_name == NULL);
    config.stack_size = (size_t)2 << 30;
    EXPECT(xasync_runtime_create(&config, &rt), XASYNC_ERR_INVALID_ARGUMENT);
    CHECK(rt.id == 0);
    config.stack_size = 0;
    config.thread_name = "\xff\xfe";
    EXPECT(xasync_runtime_create(&config, &rt), XASYNC_ERR_INVALID_ARGUMENT);
    EXPECT_MESSAGE("UTF-8");
}

static void *deep(void *arg) {
    volatile char big[200 * 1024]; /* needs more than the default 64 KiB */
    big[0] = 1;
    big[sizeof big - 1] = 2;
    return (void *)(intptr_t)(big[0] + big[sizeof big - 1] + (intptr_t)arg);
}

static void stack_size_is_configurable(void) {
    xasync_runtime rt = runtime_with(1, NULL, 512 * 1024);
    xasync_task t;
    OK(xasync_spawn(rt, deep, (void *)1, &t));
    void *r;
    OK(xasync_await(t, &r));
    CHECK((intptr_t)r == 4);
    OK(xasync_runtime_destroy(rt));
}

struct blocked {
    xasync_channel ch;
    xasync_status status;
    atomic_int returned;
};

static void *blocked_on_recv(void *arg) {
    struct blocked *b = arg;
    void *v;
    b->status = xasync_channel_recv(b->ch, &v);
    atomic_store(&b->returned, 1);
    return NULL;
}

static void destroying_a_runtime_cancels_its_tasks(void) {
    xasync_runtime rt = runtime_of(2, "capi-tasks");
    struct blocked b = {.status = XASYNC_OK};
    OK(xasync_channel_unbounded(&b.ch));
    xasync_task sleeping, receiving;
    OK(xasync_spawn(rt, sleeper, (void *)60000, &sleeping));
    OK(xasync_spawn(rt, blocked_on_recv, &b, &receiving));
    xasync_sleep_ms(20);
    double start = now_ms();
    OK(xasync_runtime_destroy(rt));
    CHECK(now_ms() - start < 5000);
    CHECK(atomic_load(&b.returned) && b.status == XASYNC_ERR_CANCELLED);
    /* The handles outlive the runtime until released. */
    EXPECT(xasync_await(sleeping, NULL), XASYNC_ERR_CANCELLED);
    EXPECT(xasync_await(receiving, NULL), XASYNC_ERR_CANCELLED);
    OK(xasync_channel_destroy(b.ch));
}

static void destroy_with_a_grace_period(void) {
    xasync_runtime rt = runtime_of(1, "capi-tasks");
    xasync_task t;
    OK(xasync_spawn(rt, sleeper, (void *)10, &t));
    OK(xasync_runtime_destroy_timeout(rt, 5000)); /* finished on its own */
    void *slept;
    OK(xasync_await(t, &slept));
    CHECK((intptr_t)slept >= 10);

    rt = runtime_of(1, "capi-tasks");
    OK(xasync_spawn(rt, sleeper, (void *)60000, &t));
    EXPECT(xasync_runtime_destroy_timeout(rt, 20), XASYNC_ERR_TIMED_OUT);
    EXPECT(xasync_await(t, NULL), XASYNC_ERR_CANCELLED);
    EXPECT(xasync_runtime_destroy(rt), XASYNC_ERR_STALE_HANDLE);
}

static void *fail_here(void *arg) {
    (void)arg;
    xasync_task zero = {0};
    xasync_task_detach(zero);
    return (void *)(intptr_t)xasync_last_error_code();
}

static void *no_error_yet(void *arg) {
    (void)arg;
    return (void *)(intptr_t)(strcmp(xasync_last_error(), "") == 0 &&
                              xasync_last_error_code() == XASYNC_OK);
}

static void last_error_is_per_thread(void) {
    xasync_task zero = {0};
    EXPECT(xasync_task_detach(zero), XASYNC_ERR_INVALID_HANDLE);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_here, NULL) == 0);
    void *theirs;
    CHECK(pthread_join(thread, &theirs) == 0);
    CHECK((xasync_status)(intptr_t)theirs == XASYNC_ERR_INVALID_HANDLE);
    /* A fresh thread has no error yet. */
    CHECK(pthread_create(&thread, NULL, no_error_yet, NULL) == 0);
    void *clean;
    CHECK(pthread_join(thread, &clean) == 0);
    CHECK(clean != NULL);
    EXPECT_MESSAGE("xasync_task_detach: a zero task handle");
}

static void status_names(void) {
    CHECK(strcmp(xasync_status_name(XASYNC_OK), "XASYNC_OK") == 0);
    CHECK(strcmp(xasync_status_name(XASYNC_ERR_STALE_HANDLE), "XASYNC_ERR_STALE_HANDLE") == 0);
    CHECK(strcmp(xasync_status_name(XASYNC_ERR_PANIC), "XASYNC_ERR_PANIC") == 0);
    CHECK(strcmp(xasync_status_name(XASYNC_ERR_DEADLOCK), "XASYNC_ERR_DEADLOCK") == 0);
    CHECK(strcmp(xasync_status_name(12345), "XASYNC_UNKNOWN_STATUS") == 0);
}

static void *suite(void *arg) {
    (void)arg;
    RUN(spawn_and_await);
    RUN(many_tasks);
    RUN(nested_spawn_uses_the_current_runtime);
    RUN(sleeping_coroutines_do_not_block_the_worker);
    RUN(yield_lets_the_other_coroutine_run);
    RUN(await_twice_and_detach_are_detected);
    RUN(awaiting_its_own_task_is_reported);
    RUN(a_detached_task_runs_on);
    RUN(cancelling_a_sleeping_coroutine);
    RUN(a_cancelled_unstarted_task_never_runs);
    RUN(is_finished_tracks_the_task);
    RUN(invalid_handles_are_reported);
    RUN(null_pointers_are_reported);
    RUN(runtime_misuse_is_reported);
    RUN(stack_size_is_configurable);
    RUN(destroying_a_runtime_cancels_its_tasks);
    RUN(destroy_with_a_grace_period);
    RUN(last_error_is_per_thread);
    RUN(status_names);
    DONE("test_tasks");
}

MAIN(suite)
