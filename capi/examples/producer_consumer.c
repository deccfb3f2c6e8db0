/* A producer and a consumer coroutine exchange values over a bounded
 * channel; the producer waits while the channel is full, the consumer
 * while it is empty, and both run on a runtime of two workers. */
#include <stdint.h>
#include <stdio.h>

#include "xasync.h"

#define ITEMS 1000

static void *producer(void *arg) {
    xasync_channel *ch = arg;
    for (intptr_t i = 1; i <= ITEMS; i++) {
        /* Items are plain integers here; a pointer to heap data would pass
         * ownership to the receiver. */
        if (xasync_channel_send(*ch, (void *)i) != XASYNC_OK) {
            fprintf(stderr, "send: %s\n", xasync_last_error());
            return NULL;
        }
    }
    xasync_channel_close(*ch); /* the consumer drains what is left, then sees CLOSED */
    return (void *)ITEMS;
}

static void *consumer(void *arg) {
    xasync_channel *ch = arg;
    intptr_t sum = 0;
    void *item;
    xasync_status status;
    while ((status = xasync_channel_recv(*ch, &item)) == XASYNC_OK) {
        sum += (intptr_t)item;
    }
    if (status != XASYNC_ERR_CLOSED) {
        fprintf(stderr, "recv: %s\n", xasync_last_error());
    }
    return (void *)sum;
}

int main(void) {
    xasync_runtime_config config;
    xasync_runtime_config_init(&config);
    config.workers = 2;
    xasync_runtime rt;
    xasync_channel ch;
    if (xasync_runtime_create(&config, &rt) != XASYNC_OK ||
        xasync_channel_bounded(16, &ch) != XASYNC_OK) {
        fprintf(stderr, "setup: %s\n", xasync_last_error());
        return 1;
    }
    xasync_task p, c;
    xasync_spawn(rt, producer, &ch, &p);
    xasync_spawn(rt, consumer, &ch, &c);
    void *sent, *sum;
    if (xasync_await(p, &sent) != XASYNC_OK || xasync_await(c, &sum) != XASYNC_OK) {
        fprintf(stderr, "await: %s\n", xasync_last_error());
        return 1;
    }
    printf("produced %ld items, consumer summed %ld\n", (long)(intptr_t)sent, (long)(intptr_t)sum);
    xasync_channel_destroy(ch);
    xasync_runtime_destroy(rt);
    return (intptr_t)sum == (intptr_t)ITEMS * (ITEMS + 1) / 2 ? 0 : 1;
}
