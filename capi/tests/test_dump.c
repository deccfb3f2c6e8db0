/* xasync_dump: a runtime's live tasks, written to a file descriptor. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <unistd.h>

#include "check.h"

static void *wait_for_message(void *arg) {
    void *message = NULL;
    if (xasync_channel_recv(*(xasync_channel *)arg, &message) != XASYNC_OK) {
        return NULL;
    }
    return message;
}

/* Reads all of `file` (from its start) into `buffer`, NUL-terminated. */
static void read_back(FILE *file, char *buffer, size_t size) {
    rewind(file);
    size_t n = fread(buffer, 1, size - 1, file);
    buffer[n] = '\0';
}

/* Counts the occurrences of `part` in `text`. */
static int count(const char *text, const char *part) {
    int n = 0;
    for (const char *at = strstr(text, part); at != NULL; at = strstr(at + 1, part)) {
        n++;
    }
    return n;
}

static void dump_lists_the_waiting_coroutines(void) {
    xasync_runtime rt = runtime_of(2, "dump-test");
    xasync_channel ch;
    OK(xasync_channel_unbounded(&ch));
    xasync_task tasks[3];
    for (int i = 0; i < 3; i++) {
        OK(xasync_spawn(rt, wait_for_message, &ch, &tasks[i]));
    }
    FILE *file = tmpfile();
    CHECK(file != NULL);
    static char text[1 << 16];
    /* The coroutines start on their own: dump until all three wait. */
    for (int tries = 0;; tries++) {
        CHECK(tries < 10000);
        CHECK(ftruncate(fileno(file), 0) == 0);
        OK(xasync_dump(rt, fileno(file)));
        read_back(file, text, sizeof text);
        if (count(text, "[waiting]") == 3) {
            break;
        }
        xasync_sleep_ms(1);
    }
    CHECK(strstr(text, "3 live tasks") != NULL);
    for (int i = 0; i < 3; i++) {
        OK(xasync_channel_send(ch, (void *)(intptr_t)(i + 1)));
    }
    intptr_t sum = 0;
    for (int i = 0; i < 3; i++) {
        sum += (intptr_t)xawait(tasks[i]);
    }
    CHECK(sum == 6);
    fclose(file);
    OK(xasync_channel_destroy(ch));
    OK(xasync_runtime_destroy(rt));
}

static void bad_input(void) {
    EXPECT(xasync_dump(XASYNC_CURRENT_RUNTIME, -1), XASYNC_ERR_INVALID_ARGUMENT);
    int pipe_ends[2];
    CHECK(pipe(pipe_ends) == 0);
    close(pipe_ends[1]);
    /* Not writable: the read end. */
    EXPECT(xasync_dump(XASYNC_CURRENT_RUNTIME, pipe_ends[0]), XASYNC_ERR_SYSTEM);
    close(pipe_ends[0]);
    xasync_runtime rt = runtime_of(1, "dump-test");
    xasync_runtime stale = rt;
    OK(xasync_runtime_destroy(rt));
    EXPECT(xasync_dump(stale, 1), XASYNC_ERR_STALE_HANDLE);
}

static void *suite(void *arg) {
    (void)arg;
    RUN(dump_lists_the_waiting_coroutines);
    RUN(bad_input);
    DONE("test_dump");
}

MAIN(suite)
