/* The floating-point control state is per coroutine on x86_64: a C
 * coroutine that changes the rounding mode (fesetround) keeps it across
 * its waits, and the other coroutines of its worker, and those after it,
 * do not see it. */
#define _POSIX_C_SOURCE 200809L
#include <fenv.h>
#include <stdint.h>

#include "check.h"

#if defined(__x86_64__)
#include <xmmintrin.h>

/* The rounding mode (an FE_* constant) of both units, -1 if they differ:
 * fegetround reads the x87 control word, SSE arithmetic follows MXCSR,
 * whose rounding field has the same encoding 3 bits further left. (The
 * registers are read rather than a quotient's rounding observed because
 * valgrind's SSE arithmetic always rounds to nearest.) */
static int rounding(void) {
    int x87 = fegetround();
    int sse = (int)((_mm_getcsr() >> 3) & 0xc00);
    return x87 == sse ? x87 : -1;
}

static xasync_channel changed, looked;

/* Rounds down, lets the other coroutine look, then reports whether its
 * own mode is still in effect. Returns without restoring it. */
static void *round_down(void *arg) {
    (void)arg;
    CHECK(fesetround(FE_DOWNWARD) == 0);
    CHECK(rounding() == FE_DOWNWARD);
    OK(xasync_channel_send(changed, NULL));
    void *ignored;
    OK(xasync_channel_recv(looked, &ignored)); /* suspends: the other runs */
    return (void *)(intptr_t)(rounding() == FE_DOWNWARD);
}

/* Once `round_down` has changed its mode and suspended (with one worker
 * it must have suspended for this coroutine to run), reports whether it
 * sees the default mode. */
static void *look(void *arg) {
    (void)arg;
    void *ignored;
    OK(xasync_channel_recv(changed, &ignored));
    intptr_t nearest = rounding() == FE_TONEAREST;
    OK(xasync_channel_send(looked, NULL));
    return (void *)nearest;
}

/* Reports whether it sees the default mode. */
static void *look_now(void *arg) {
    (void)arg;
    return (void *)(intptr_t)(rounding() == FE_TONEAREST);
}

static void rounding_mode_is_per_coroutine(void) {
    xasync_runtime rt = runtime_of(1, "capi-fp-env"); /* one thread for all */
    OK(xasync_channel_bounded(1, &changed));
    OK(xasync_channel_bounded(1, &looked));
    xasync_task down, other;
    OK(xasync_spawn(rt, round_down, NULL, &down));
    OK(xasync_spawn(rt, look, NULL, &other));
    void *kept, *nearest;
    OK(xasync_await(other, &nearest));
    OK(xasync_await(down, &kept));
    CHECK(kept);
    CHECK(nearest);
    /* Nor does a coroutine that starts after it returned. */
    OK(xasync_spawn(rt, look_now, NULL, &other));
    OK(xasync_await(other, &nearest));
    CHECK(nearest);
    CHECK(rounding() == FE_TONEAREST); /* nor this thread */
    OK(xasync_channel_destroy(changed));
    OK(xasync_channel_destroy(looked));
    OK(xasync_runtime_destroy(rt));
}

static void *suite(void *arg) {
    (void)arg;
    RUN(rounding_mode_is_per_coroutine);
    DONE("test_fp_env");
}

#else

/* Elsewhere the coroutines of a worker share the control state (see
 * xasync.h). */
static void *suite(void *arg) {
    (void)arg;
    printf("test_fp_env: skipped (not x86_64)\n");
    return NULL;
}

#endif

MAIN(suite)
