/* SPDX-License-Identifier: MIT */
/*
 * The command-line layer: parse argv, run a subcommand, print results and
 * map outcomes to the documented exit codes (docs/cli.md). This is the only
 * layer (with the supervisor's log) that prints.
 */
#pragma once

#include "ralphsup/cli/exitcode.h"

int rs_cli_main(int argc, char **argv);

/*
 * rs_cli_flush_stdout() - flush stdout at exit (main.c, SIGPIPE ignored) and
 * return the exit status: @ex when everything was written or when the
 * reader of a pipe went away (EPIPE: `ralphsup status CONFIG | head -1` is
 * not a failure, and says nothing); otherwise (ENOSPC, EIO, ...) a message
 * on stderr and @ex, or 74 when @ex is 0.
 */
int rs_cli_flush_stdout(int ex);

/* Subcommands implemented in their own files (cli_*.c). */
int rs_cmd_init(int argc, char **argv);
int rs_cmd_status(int argc, char **argv);
int rs_cmd_resume(int argc, char **argv);
int rs_cmd_recover(int argc, char **argv);
int rs_cmd_start(int argc, char **argv);
int rs_cmd_stop(int argc, char **argv);
int rs_cmd_reload(int argc, char **argv);
int rs_cmd_replay(int argc, char **argv);
int rs_cmd_report(int argc, char **argv);
int rs_cmd_audit(int argc, char **argv);
/* cli_ops.c: the operator's `retry` and `skip` (docs/operations.md). */
int rs_cmd_retry(int argc, char **argv);
int rs_cmd_skip(int argc, char **argv);
/* rs_cmd_merge() (cli_merge.c) - `ralphsup merge`: the shards of a batch made one (docs/scale-out.md). */
int rs_cmd_merge(int argc, char **argv);
/*
 * rs_cli_status_shards() (cli_shards.c) - the shard progress files beside
 * b's progress file: printed one line each, or, with @json_out, added to it
 * as "shards". Return: how many shard files were read.
 */
struct rs_batch;
struct json_t;
int rs_cli_status_shards(const struct rs_batch *b, struct json_t *json_out);
/* `status` without a batch progress file: the shard files (text or JSON) when sharded files exist; how many. */
int rs_cli_status_only_shards(const struct rs_batch *b, int json);
/* `status --json`: "shard" {index, count} of a shard, or the "shards" found beside the batch's file. */
void rs_cli_status_shard_json(const struct rs_batch *b, struct json_t *o);
/* `status` text: the shard line before the status (@before), or the shard files after it. */
void rs_cli_status_shard_text(const struct rs_batch *b, int before);
/*
 * rs_cmd_hook() (cli_hook.c) - `ralphsup hook guard [--config CONFIG]`: the command
 * Claude Code runs before each matched tool call (argv[0] == "hook").
 * Reads the call from stdin, prints the deny JSON when the guard says no.
 * Return: exit status, 0 whenever a decision was printed or allowed;
 * 64 for a usage error outside `hook guard`.
 */
int rs_cmd_hook(int argc, char **argv);
/* rs_cmd_keeper() (cli_keeper.c) - `ralphsup keeper`, hidden: the iteration keeper run/runner.c spawns. */
int rs_cmd_keeper(int argc, char **argv);

/* Shared CLI helpers. */
/* Print every message of @d to stderr prefixed with "ralphsup: ". */
struct rs_diags;
void rs_cli_print_diags(const struct rs_diags *d, const char *prefix);
/* A command fails: print @d as rs_cli_print_diags(@d, "ralphsup: ") does, deinit it, return @ex. */
int rs_cli_fail(struct rs_diags *d, int ex);
/*
 * The warning of a command that goes on with a config that does not
 * validate (rs_batch_open_lenient()): "ralphsup: warning: CONFIG has errors
 * (first problem; and N more); using progress file P <purpose> (...)".
 * @progress NULL: the batch could not be opened even so (the reason follows).
 */
void rs_cli_warn_lenient(const char *config, const struct rs_diags *problems, const char *progress,
                         const char *purpose);
/* True when argv has -h/--help before "--". */
int rs_cli_wants_help(int argc, char **argv);
/* rs_cli_wants_help(), and then @help printed on stdout. */
int rs_cli_help(int argc, char **argv, const char *help);
/*
 * A --shard value (I/N or auto/N, JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID
 * for auto) parses: 0, else "ralphsup CMD: --shard <why>" on stderr and
 * RS_EXIT_USAGE.
 */
int rs_cli_shard_arg(const char *cmd, const char *value);
