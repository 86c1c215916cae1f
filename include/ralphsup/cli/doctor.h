/* SPDX-License-Identifier: MIT */
/*
 * `ralphsup doctor CONFIG [--online]`: the pre-flight checklist of a batch.
 * One line per check (✓ ok, ! warning, ✗ problem, - skipped) with a fix
 * hint under every problem and warning: config, school list and aliases,
 * progress file, prompt template (rendered for the first pending school),
 * agent command and its version, credentials, API reachability (only with
 * --online), git repository and identity, free disk space, stale cache
 * files, and the supervisor lock. Reference: docs/doctor.md.
 *
 * It reads and never changes anything: no file is created, pruned or
 * committed, and the lock is only probed.
 */
#pragma once

/*
 * rs_cmd_doctor() - run the checklist (argv[0] == "doctor").
 * Return: exit status: 0 when no required check failed (warnings allowed),
 * 1 when at least one did, 64 on a usage error.
 */
int rs_cmd_doctor(int argc, char **argv);
