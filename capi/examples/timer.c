/* The seed's event mechanism in C: a periodic timer calls a C callback with
 * user data until it is cancelled, and a one-shot timer fires once. */
#include <stdatomic.h>
#include <stdio.h>

#include "xasync.h"

struct ticker {
    const char *name;
    atomic_int ticks;
};

static void on_tick(void *user_data) {
    struct ticker *t = user_data;
    int n = atomic_fetch_add(&t->ticks, 1) + 1;
    printf("%s: tick %d\n", t->name, n);
}

static void on_alarm(void *user_data) {
    atomic_store((atomic_int *)user_data, 1);
    printf("alarm: fired once\n");
}

int main(void) {
    xasync_runtime rt;
    if (xasync_runtime_create(NULL, &rt) != XASYNC_OK) {
        fprintf(stderr, "runtime: %s\n", xasync_last_error());
        return 1;
    }
    struct ticker t = {.name = "every 20 ms", .ticks = 0};
    atomic_int alarm = 0;
    xasync_timer every, once;
    xasync_timer_every(rt, 20, 20, on_tick, &t, &every);
    xasync_timer_after(rt, 50, on_alarm, &alarm, &once);

    xasync_sleep_ms(110); /* on a plain thread this blocks it */
    xasync_timer_cancel(every); /* after this, on_tick is neither running nor called again */
    xasync_timer_cancel(once);  /* releases the fired one-shot timer */
    int ticks = atomic_load(&t.ticks);
    printf("%d ticks before cancel, alarm %s\n", ticks, atomic_load(&alarm) ? "fired" : "did not fire");

    xasync_sleep_ms(50);
    int after = atomic_load(&t.ticks);
    xasync_runtime_destroy(rt);
    return ticks >= 3 && after == ticks && atomic_load(&alarm) ? 0 : 1;
}
