/* The seed's event mechanism in C, with file descriptors: a timer callback
 * writes a line into a pipe every 10 ms, and a readiness callback on the
 * pipe's read end reads it when the event loop reports it readable. The
 * main thread waits for five lines on a channel the callback feeds. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xasync.h"

struct app {
    int pipe[2];
    int sent;
    xasync_channel lines;
};

/* Timer callback: runs in a coroutine of the runtime. */
static void write_line(void *user_data) {
    struct app *app = user_data;
    char line[32];
    int n = snprintf(line, sizeof line, "event %d\n", ++app->sent);
    if (write(app->pipe[1], line, (size_t)n) != n) {
        perror("write");
    }
}

/* Readiness callback: runs on the event loop; must not block or wait, so it
 * reads what is there (the fd is non-blocking) and passes it on. */
static void on_readable(int fd, uint32_t events, void *user_data) {
    struct app *app = user_data;
    char buf[128];
    ssize_t n;
    (void)events;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                xasync_channel_try_send(app->lines, NULL); /* one line arrived */
            }
        }
        fwrite(buf, 1, (size_t)n, stdout);
    }
}

int main(void) {
    struct app app = {.sent = 0};
    xasync_runtime rt;
    xasync_timer timer;
    xasync_watch watch;
    if (pipe(app.pipe) != 0 || fcntl(app.pipe[0], F_SETFL, O_NONBLOCK) != 0) {
        perror("pipe");
        return 1;
    }
    if (xasync_runtime_create(NULL, &rt) != XASYNC_OK ||
        xasync_channel_unbounded(&app.lines) != XASYNC_OK ||
        xasync_fd_watch(rt, app.pipe[0], XASYNC_READABLE, on_readable, &app, &watch) != XASYNC_OK ||
        xasync_timer_every(rt, 10, 10, write_line, &app, &timer) != XASYNC_OK) {
        fprintf(stderr, "setup: %s\n", xasync_last_error());
        return 1;
    }
    int lines = 0;
    void *unused;
    while (lines < 5 && xasync_channel_recv_timeout(app.lines, 1000, &unused) == XASYNC_OK) {
        lines++;
    }
    xasync_timer_cancel(timer); /* neither callback runs after these return */
    xasync_fd_unwatch(watch);
    printf("%d lines read by the readiness callback\n", lines);
    xasync_channel_destroy(app.lines);
    xasync_runtime_destroy(rt);
    close(app.pipe[0]);
    close(app.pipe[1]);
    return lines == 5 ? 0 : 1;
}
