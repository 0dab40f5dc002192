/* SPDX-License-Identifier: Apache-2.0 */
/* Scripted memcached text-protocol server (see fake_mcserver.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "fake_mcserver.h"

struct fake_mcserver_t {
    int lfd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    const char *const *script;
    int next, commands;
    volatile int hang, stop;
    int live;                     /* connection threads running (under lock) */
};

typedef struct {
    fake_mcserver_t *srv;
    int fd;
} conn_t;

/* Waits for fd to be readable while neither stopped nor hung; 1 when readable. */
static int wait_readable(fake_mcserver_t *srv, int fd)
{
    struct pollfd pfd = { fd, POLLIN, 0 };

    for (;;) {
        if (srv->stop) {
            return 0;
        }
        if (srv->hang) {
            usleep(5000);
            continue;
        }
        if (poll(&pfd, 1, 20) > 0) {
            return 1;
        }
    }
}

/* Reads one line (without CRLF) into buf; 0 at EOF or stop. */
static int read_line(fake_mcserver_t *srv, int fd, char *buf, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        char c;
        if (!wait_readable(srv, fd) || read(fd, &c, 1) != 1) {
            return 0;
        }
        if (c == '\n') {
            if (n > 0 && buf[n - 1] == '\r') {
                n--;
            }
            buf[n] = '\0';
            return 1;
        }
        buf[n++] = c;
    }
    return 0;
}

static void serve(fake_mcserver_t *srv, int fd)
{
    char line[1024], cmd[16];
    unsigned flags, bytes;
    long exptime;

    while (read_line(srv, fd, line, sizeof(line))) {
        const char *reply = NULL;

        /* storage commands carry a data block of <bytes> plus CRLF */
        if (sscanf(line, "%15s %*s %u %ld %u", cmd, &flags, &exptime, &bytes) == 4
            && (!strcmp(cmd, "set") || !strcmp(cmd, "add") || !strcmp(cmd, "cas"))) {
            unsigned i;
            for (i = 0; i < bytes + 2; i++) {
                char c;
                if (!wait_readable(srv, fd) || read(fd, &c, 1) != 1) {
                    return;
                }
            }
        }
        pthread_mutex_lock(&srv->lock);
        srv->commands++;
        if (srv->script && srv->script[srv->next]) {
            reply = srv->script[srv->next++];
        }
        pthread_mutex_unlock(&srv->lock);
        if (reply && !strcmp(reply, "CLOSE")) {
            return;
        }
        if (!reply) {
            reply = !strncmp(line, "get", 3) ? "END"
                    : (!strncmp(line, "delete", 6) || !strncmp(line, "touch", 5)) ? "NOT_FOUND"
                    : "STORED";
        }
        if (write(fd, reply, strlen(reply)) < 0 || write(fd, "\r\n", 2) < 0) {
            return;
        }
    }
}

static void *conn_main(void *baton)
{
    conn_t *c = baton;
    fake_mcserver_t *srv = c->srv;

    serve(srv, c->fd);
    close(c->fd);
    free(c);
    pthread_mutex_lock(&srv->lock);
    srv->live--;
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static void *srv_main(void *baton)
{
    fake_mcserver_t *srv = baton;

    while (!srv->stop) {
        pthread_t t;
        conn_t *c;
        int fd;

        if (!wait_readable(srv, srv->lfd)) {
            continue;
        }
        if ((fd = accept(srv->lfd, NULL, NULL)) < 0) {
            continue;
        }
        c = malloc(sizeof(*c));
        c->srv = srv;
        c->fd = fd;
        pthread_mutex_lock(&srv->lock);
        srv->live++;
        pthread_mutex_unlock(&srv->lock);
        if (pthread_create(&t, NULL, conn_main, c) != 0) {
            abort();
        }
        pthread_detach(t);
    }
    return NULL;
}

fake_mcserver_t *fake_mcserver_start(const char *const *script)
{
    fake_mcserver_t *srv = calloc(1, sizeof(*srv));
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);

    signal(SIGPIPE, SIG_IGN);    /* as httpd does: a write to a closed socket is EPIPE */
    srv->script = script;
    pthread_mutex_init(&srv->lock, NULL);
    srv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (srv->lfd < 0 || bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || getsockname(srv->lfd, (struct sockaddr *)&sa, &slen) != 0 || listen(srv->lfd, 64) != 0
        || pthread_create(&srv->thread, NULL, srv_main, srv) != 0) {
        abort();
    }
    srv->port = ntohs(sa.sin_port);
    return srv;
}

int fake_mcserver_port(const fake_mcserver_t *srv)
{
    return srv->port;
}

void fake_mcserver_hang(fake_mcserver_t *srv, int hang)
{
    srv->hang = hang;
}

int fake_mcserver_commands(fake_mcserver_t *srv)
{
    int n;

    pthread_mutex_lock(&srv->lock);
    n = srv->commands;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

void fake_mcserver_stop(fake_mcserver_t *srv)
{
    int live = 1;

    srv->stop = 1;
    pthread_join(srv->thread, NULL);
    while (live) {
        pthread_mutex_lock(&srv->lock);
        live = srv->live;
        pthread_mutex_unlock(&srv->lock);
        usleep(1000);
    }
    close(srv->lfd);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
