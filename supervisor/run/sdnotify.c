/* SPDX-License-Identifier: MIT */
/*
 * sd_notify without libsystemd. The protocol is small and stable (systemd's
 * sd_notify(3), "NOTIFY_SOCKET"): a datagram of "KEY=value" lines to an
 * AF_UNIX socket, whose address is $NOTIFY_SOCKET — a file system path, or,
 * when it starts with '@', a name in the abstract namespace (the '@' becomes
 * a NUL byte and the address length covers the name only). One socket is
 * opened at start and reused; every send is non-blocking and its failure
 * ignored (what sd_notify does), so a missing or slow service manager never
 * holds the supervisor's loop.
 *
 * The watchdog: $WATCHDOG_USEC is the deadline systemd enforces, pinging at
 * half of it is what sd_watchdog_enabled(3) recommends; $WATCHDOG_PID, when
 * set, must be our pid or the watchdog is someone else's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ralphsup/run/sdnotify.h"
#include "ralphsup/base/common.h"
#include "ralphsup/base/utf8.h"

#define STATUS_MAX 1024

struct rs_sdnotify {
    int fd;                      /* -1 without a socket */
    struct sockaddr_un addr;
    socklen_t addrlen;
    uint64_t watchdog_usec;      /* 0: no watchdog for us */
    uint64_t status_sent_ms;
    bool status_sent_once;
    char status[STATUS_MAX + 1];
};

/* A decimal without sign, spaces or trailing text; false otherwise. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

struct rs_sdnotify *rs_sdnotify_new(void)
{
    struct rs_sdnotify *n = rs_xcalloc(1, sizeof(*n));
    n->fd = -1;
    const char *sock = getenv("NOTIFY_SOCKET");
    size_t len = sock ? strlen(sock) : 0;
    /* A path or '@'name that fits sun_path; anything else (vsock:… of newer systemd) is not ours to speak. */
    if (len >= 2 && (sock[0] == '/' || sock[0] == '@') && len < sizeof(n->addr.sun_path)) {
        n->addr.sun_family = AF_UNIX;
        memcpy(n->addr.sun_path, sock, len);
        if (sock[0] == '@')
            n->addr.sun_path[0] = '\0';
        /* A path's address includes its NUL; an abstract name's does not. */
        n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (sock[0] == '/'));
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    }
    uint64_t usec = 0, pid = 0;
    if (parse_u64(getenv("WATCHDOG_USEC"), &usec) && usec > 0) {
        const char *wp = getenv("WATCHDOG_PID");
        if (!wp || (parse_u64(wp, &pid) && pid == (uint64_t)getpid()))
            n->watchdog_usec = usec;
    }
    return n;
}

struct rs_sdnotify *rs_sdnotify_free(struct rs_sdnotify *n)
{
    if (n) {
        if (n->fd >= 0)
            close(n->fd);
        free(n);
    }
    return NULL;
}

bool rs_sdnotify_active(const struct rs_sdnotify *n)
{
    return n && n->fd >= 0;
}

int rs_sdnotify_send(struct rs_sdnotify *n, const char *msg)
{
    if (!rs_sdnotify_active(n))
        return -ENOTCONN;
    ssize_t r;
    do
        r = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *)&n->addr,
                   n->addrlen);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

bool rs_sdnotify_status(struct rs_sdnotify *n, const char *line, uint64_t now_ms, bool force)
{
    if (!rs_sdnotify_active(n) || !line)
        return false;
    char cut[STATUS_MAX + 1];
    rs_utf8_copy(cut, sizeof cut, line, strlen(line));
    /* One line: a newline would start another assignment of the datagram. */
    for (char *p = cut; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (!force && n->status_sent_once && (now_ms - n->status_sent_ms < 1000 || strcmp(cut, n->status) == 0))
        return false;
    char msg[STATUS_MAX + 16];
    snprintf(msg, sizeof msg, "STATUS=%s", cut);
    rs_sdnotify_send(n, msg);
    memcpy(n->status, cut, sizeof cut);
    n->status_sent_ms = now_ms;
    n->status_sent_once = true;
    return true;
}

int rs_sdnotify_reloading(struct rs_sdnotify *n)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[64];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
    return rs_sdnotify_send(n, msg);
}

uint64_t rs_sdnotify_watchdog_ms(const struct rs_sdnotify *n)
{
    if (!n || !n->watchdog_usec)
        return 0;
    uint64_t ms = n->watchdog_usec / 2000;
    return ms ? ms : 1;
}

bool rs_sdnotify_env_private(const char *entry)
{
    static const char *const names[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                        "LISTEN_FDS",    "LISTEN_PID",    "LISTEN_FDNAMES"};
    for (size_t i = 0; i < RS_ARRAY_SIZE(names); i++) {
        size_t l = strlen(names[i]);
        if (strncmp(entry, names[i], l) == 0 && entry[l] == '=')
            return true;
    }
    return false;
}
