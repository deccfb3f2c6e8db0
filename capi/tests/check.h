/* A few macros for the C tests: each check aborts with its location, the
 * expression, and the library's last error when it fails (so the process
 * exits non-zero, and valgrind still reports). Independent of NDEBUG. */
#ifndef XASYNC_TEST_CHECK_H
#define XASYNC_TEST_CHECK_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xasync.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n  last error: %s\n", __FILE__,    \
                    __LINE__, #cond, xasync_last_error());                              \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Checks that `call` returns the status `expected`. */
#define EXPECT(call, expected)                                                          \
    do {                                                                                \
        xasync_status got_ = (call);                                                    \
        if (got_ != (expected)) {                                                       \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n  last error: %s\n",   \
                    __FILE__, __LINE__, #call, xasync_status_name(got_),                \
                    xasync_status_name(expected), xasync_last_error());                 \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define OK(call) EXPECT(call, XASYNC_OK)

/* Checks that the last error's message contains `part`. */
#define EXPECT_MESSAGE(part)                                                            \
    do {                                                                                \
        if (strstr(xasync_last_error(), (part)) == NULL) {                              \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n",       \
                    __FILE__, __LINE__, xasync_last_error(), (part));                   \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static inline double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* A runtime of `workers` workers whose threads are named `name` (NULL: the
 * library's default) and whose coroutines get stacks of `stack_size` bytes
 * (0: the default). */
static inline xasync_runtime runtime_with(size_t workers, const char *name, size_t stack_size) {
    xasync_runtime_config config;
    OK(xasync_runtime_config_init(&config));
    config.workers = workers;
    config.thread_name = name;
    config.stack_size = stack_size;
    xasync_runtime rt;
    OK(xasync_runtime_create(&config, &rt));
    return rt;
}

/* A runtime of `workers` workers whose threads are named `name`. */
static inline xasync_runtime runtime_of(size_t workers, const char *name) {
    return runtime_with(workers, name, 0);
}

static int tests_run;

#define RUN(test)                                                                       \
    do {                                                                                \
        test();                                                                         \
        tests_run++;                                                                    \
        printf("ok - %s\n", #test);                                                     \
        fflush(stdout);                                                                 \
    } while (0)

/* The closing line: checks abort, so reaching it means all passed. */
#define DONE(suite)                                                                     \
    do {                                                                                \
        printf("%s: %d passed, 0 failed\n", (suite), tests_run);                        \
        return NULL;                                                                    \
    } while (0)

/* Runs `suite` (a `void *suite(void *)` that ends with DONE) on a thread of
 * its own and joins it: the per-thread state that the Rust standard library
 * and crossbeam keep for a thread that waits (its `Thread` handle, its epoch
 * registration) is freed by that thread's TLS destructors, which the main
 * thread never runs (exit() skips them), so valgrind sees no leak. */
#define MAIN(suite)                                                                     \
    int main(void) {                                                                    \
        pthread_t thread_;                                                              \
        if (pthread_create(&thread_, NULL, (suite), NULL) != 0) return 1;               \
        return pthread_join(thread_, NULL) != 0;                                        \
    }

#endif
