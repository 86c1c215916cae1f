/* SPDX-License-Identifier: MIT */
/*
 * ralphsup entry point: everything else lives in the layer libraries
 * (supervisor/meson.build). SIGPIPE is ignored before anything runs, so a
 * write to a pipe nobody reads any more (`ralphsup status CONFIG | head -1`,
 * a hook whose caller went away, an agent's closed stdin) is an EPIPE the
 * code sees instead of a silent death; rs_cli_flush_stdout() then decides
 * what the exit status says (docs/cli.md, "Output"). An ignored signal stays
 * ignored across exec: libuv's uv_spawn() resets every disposition in the
 * child, and the doctor's own fork resets SIGPIPE.
 *
 * SIGUSR1 is ignored too: `ralphsup retry` / `skip` send it to whoever holds
 * the batch's lock, and only the supervisor's loop (which installs its own
 * handler) acts on it; any other holder (`init`, `resume`, another `retry`)
 * must not be killed by it (docs/operations.md).
 */
#include <signal.h>

#include "ralphsup/cli/cli.h"

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    return rs_cli_flush_stdout(rs_cli_main(argc, argv));
}
