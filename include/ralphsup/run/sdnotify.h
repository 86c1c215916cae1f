/* SPDX-License-Identifier: MIT */
/*
 * The systemd service notification protocol (sd_notify(3)), written against
 * its documented wire format rather than linked from libsystemd: one
 * AF_UNIX SOCK_DGRAM datagram per message to the socket named by
 * $NOTIFY_SOCKET (a path, or an abstract name when it starts with '@'),
 * newline-separated "KEY=value" assignments. ralphsup sends READY=1 once the
 * start-up checks passed, STATUS=<the live line> (at most once a second),
 * RELOADING=1 + MONOTONIC_USEC= on SIGHUP then READY=1 again, STOPPING=1,
 * and WATCHDOG=1 from a loop timer.
 *
 * Without $NOTIFY_SOCKET everything here is a no-op, so callers need not
 * ask. Sends never block (MSG_DONTWAIT) and their failures are ignored, as
 * sd_notify's are: the service manager being gone must not stop a batch.
 * The watchdog interval comes from $WATCHDOG_USEC, honoured only when
 * $WATCHDOG_PID is unset or names this process.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct rs_sdnotify; /* opaque */

/*
 * rs_sdnotify_new() - read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID
 * of the process environment and open the datagram socket. Never fails:
 * without a (usable) socket the handle only says rs_sdnotify_active() false.
 */
struct rs_sdnotify *rs_sdnotify_new(void);
struct rs_sdnotify *rs_sdnotify_free(struct rs_sdnotify *n);

/* True when there is a socket to send to. NULL-safe (false). */
bool rs_sdnotify_active(const struct rs_sdnotify *n);

/*
 * rs_sdnotify_send() - send @msg ("READY=1", "STOPPING=1\nSTATUS=…") as one
 * datagram. NULL-safe. Return: 0, -ENOTCONN without a socket, or negative
 * errno of sendto().
 */
int rs_sdnotify_send(struct rs_sdnotify *n, const char *msg);

/*
 * rs_sdnotify_status() - STATUS=@line (cut at 1 KiB on a UTF-8 boundary),
 * at most once per second of @now_ms (a monotonic clock) and only when the
 * text changed, unless @force. Return: true when sent.
 */
bool rs_sdnotify_status(struct rs_sdnotify *n, const char *line, uint64_t now_ms, bool force);

/* RELOADING=1 and MONOTONIC_USEC=<CLOCK_MONOTONIC now>, as systemd wants them together. */
int rs_sdnotify_reloading(struct rs_sdnotify *n);

/*
 * rs_sdnotify_watchdog_ms() - the period at which to send WATCHDOG=1: half
 * of $WATCHDOG_USEC (at least 1 ms), or 0 when there is no watchdog for this
 * process (unset, unparsable, 0, or $WATCHDOG_PID names another process).
 */
uint64_t rs_sdnotify_watchdog_ms(const struct rs_sdnotify *n);

/*
 * rs_sdnotify_env_private() - true for an environment entry ("NAME=value")
 * that belongs to this process's service manager and must not reach the
 * agents or notification commands: NOTIFY_SOCKET, WATCHDOG_USEC,
 * WATCHDOG_PID, and the socket-activation LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES (ralphsup takes no sockets; a child seeing them could
 * believe descriptors were passed to it).
 */
bool rs_sdnotify_env_private(const char *entry);
