#define _POSIX_C_SOURCE 200809L
/* The seed's scenario in C: a plain function that waits (sleeps) runs as a
 * coroutine started by xasync(); main does other work meanwhile and waits
 * for the result only when it needs it, with xawait().
 *
 * It uses the default runtime, started on first use (XASYNC_WORKERS sets
 * its worker count). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "xasync.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Waits without blocking its worker thread, then returns a value. */
static void *long_time_action(void *arg) {
    intptr_t n = (intptr_t)arg;
    if (xasync_sleep_ms(100) != XASYNC_OK) {
        return NULL;
    }
    return (void *)(n * 2);
}

static void other_action(void) { printf("other_action runs while the coroutines sleep\n"); }

int main(void) {
    double start = now_ms();
    xasync_task frames[3];
    for (intptr_t i = 0; i < 3; i++) {
        frames[i] = xasync(long_time_action, (void *)(i + 20)); /* start; do not wait */
        if (frames[i].id == 0) {
            fprintf(stderr, "xasync failed: %s\n", xasync_last_error());
            return 1;
        }
    }
    other_action();
    intptr_t sum = 0;
    for (int i = 0; i < 3; i++) {
        sum += (intptr_t)xawait(frames[i]); /* wait only when the result is needed */
    }
    double elapsed = now_ms() - start;
    printf("sum of results: %ld after %.0f ms (three 100 ms sleeps ran concurrently)\n",
           (long)sum, elapsed);
    return sum == 2 * (20 + 21 + 22) && elapsed < 300 ? 0 : 1;
}
