/* SPDX-License-Identifier: MIT */
/*
 * sd_notify over a real datagram socket: a path socket and an abstract one,
 * STATUS= rate limiting, RELOADING=1 with MONOTONIC_USEC, the watchdog
 * period and WATCHDOG_PID, and the entries kept from the agents.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ralphsup/base/util.h"
#include "ralphsup/run/sdnotify.h"

static char dir[32];
static int rx = -1;

/* Bind a receiver at @name ('@' = abstract) and point NOTIFY_SOCKET at it. */
static void listen_at(const char *name)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t l = strlen(name);
    memcpy(a.sun_path, name, l);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(rx >= 0);
    socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + (name[0] == '/'));
    cr_assert(bind(rx, (struct sockaddr *)&a, al) == 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setenv("NOTIFY_SOCKET", name, 1);
}

static char *next_msg(void)
{
    static char buf[4096];
    ssize_t n = recv(rx, buf, sizeof buf - 1, 0);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

static void setup(void)
{
    strcpy(dir, "/tmp/rs-sdn-XXXXXX");
    cr_assert(mkdtemp(dir));
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
    if (rx >= 0)
        close(rx);
    rx = -1;
    char *cmd = rs_xasprintf("rm -rf '%s'", dir);
    cr_expect(system(cmd) == 0);
    free(cmd);
}

TestSuite(sdnotify, .init = setup, .fini = teardown, .timeout = 10);

Test(sdnotify, path_socket_messages)
{
    char *p = rs_path_join(dir, "notify");
    listen_at(p);
    struct rs_sdnotify *n = rs_sdnotify_new();
    cr_assert(rs_sdnotify_active(n));
    cr_expect_eq(rs_sdnotify_send(n, "READY=1"), 0);
    cr_expect_str_eq(next_msg(), "READY=1");
    cr_expect_eq(rs_sdnotify_reloading(n), 0);
    char *m = next_msg();
    unsigned long long us = 0;
    cr_assert(m && sscanf(m, "RELOADING=1\nMONOTONIC_USEC=%llu", &us) == 1, "%s", m ? m : "(nothing)");
    cr_expect_gt(us, 0);
    n = rs_sdnotify_free(n);
    free(p);
}

Test(sdnotify, abstract_socket)
{
    char name[64];
    snprintf(name, sizeof name, "@rs-sdnotify-test-%d", (int)getpid());
    listen_at(name);
    struct rs_sdnotify *n = rs_sdnotify_new();
    cr_expect_eq(rs_sdnotify_send(n, "STOPPING=1"), 0);
    cr_expect_str_eq(next_msg(), "STOPPING=1");
    rs_sdnotify_free(n);
}

Test(sdnotify, status_rate_limited_and_one_line)
{
    char *p = rs_path_join(dir, "notify");
    listen_at(p);
    struct rs_sdnotify *n = rs_sdnotify_new();
    cr_expect(rs_sdnotify_status(n, "first\nline", 10000, false));
    cr_expect_str_eq(next_msg(), "STATUS=first line", "a newline would start another assignment");
    cr_expect(!rs_sdnotify_status(n, "second", 10500, false), "within a second: not sent");
    cr_expect(!rs_sdnotify_status(n, "first line", 12000, false), "unchanged: not sent");
    cr_expect(rs_sdnotify_status(n, "third", 11200, false));
    cr_expect_str_eq(next_msg(), "STATUS=third");
    cr_expect(rs_sdnotify_status(n, "forced", 11201, true));
    cr_expect_str_eq(next_msg(), "STATUS=forced");
    rs_sdnotify_free(n);
    free(p);
}

Test(sdnotify, no_socket_is_a_no_op)
{
    struct rs_sdnotify *n = rs_sdnotify_new();
    cr_expect(!rs_sdnotify_active(n));
    cr_expect_eq(rs_sdnotify_send(n, "READY=1"), -ENOTCONN);
    cr_expect(!rs_sdnotify_status(n, "x", 0, true));
    rs_sdnotify_free(n);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    n = rs_sdnotify_new();
    cr_expect(!rs_sdnotify_active(n), "an address family not spoken here is ignored");
    rs_sdnotify_free(n);
}

Test(sdnotify, watchdog_period)
{
    struct rs_sdnotify *n = rs_sdnotify_new();
    cr_expect_eq(rs_sdnotify_watchdog_ms(n), 0);
    rs_sdnotify_free(n);
    setenv("WATCHDOG_USEC", "3000000", 1);
    n = rs_sdnotify_new();
    cr_expect_eq(rs_sdnotify_watchdog_ms(n), 1500, "half of WATCHDOG_USEC");
    rs_sdnotify_free(n);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    n = rs_sdnotify_new();
    cr_expect_eq(rs_sdnotify_watchdog_ms(n), 1500, "WATCHDOG_PID names us");
    rs_sdnotify_free(n);
    snprintf(pid, sizeof pid, "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    n = rs_sdnotify_new();
    cr_expect_eq(rs_sdnotify_watchdog_ms(n), 0, "someone else's watchdog");
    rs_sdnotify_free(n);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "12x", 1);
    n = rs_sdnotify_new();
    cr_expect_eq(rs_sdnotify_watchdog_ms(n), 0, "unparsable");
    rs_sdnotify_free(n);
}

Test(sdnotify, private_environment)
{
    const char *private[] = {"NOTIFY_SOCKET=/run/x", "WATCHDOG_USEC=1", "WATCHDOG_PID=2", "LISTEN_FDS=1",
                             "LISTEN_PID=3", "LISTEN_FDNAMES=a"};
    for (size_t i = 0; i < sizeof private / sizeof private[0]; i++)
        cr_expect(rs_sdnotify_env_private(private[i]), "%s", private[i]);
    cr_expect(!rs_sdnotify_env_private("NOTIFY_SOCKETS=x"));
    cr_expect(!rs_sdnotify_env_private("PATH=/bin"));
    cr_expect(!rs_sdnotify_env_private("WATCHDOG_USEC"), "no '=': not an entry of that name");
}
