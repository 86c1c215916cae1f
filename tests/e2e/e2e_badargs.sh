#!/bin/bash
# e2e_badargs.sh: an agent that cannot even start stops the batch at once.
#
# As root the real CLI refuses --dangerously-skip-permissions before printing
# anything (stdout empty, rc 1, the reason on stderr). Counting that as an
# item failure would fail every school of the batch in turn; ralphsup must
# see that the agent never printed its system/init line, stop with exit 69
# and quote the CLI's reason, after ONE iteration, with all schools pending.
. "$(dirname "$0")/lib.sh"
e2e_init badargs
if [ "$(id -u)" != 0 ]; then
    ok "skipped: the CLI refuses --dangerously-skip-permissions only as root"
    e2e_finish
fi
e2e_batch '{"batch_name": "e2e-badargs", "schools": [
  {"name": "Cached College", "conference": "E2E Conference", "state": "CA", "priority": 1},
  {"name": "Uncached University", "conference": "E2E Conference", "state": "OR", "priority": 1}
]}'
sed -i 's/^args = \[.*\]$/args = ["--dangerously-skip-permissions"]/' "$E2E_CONFIG"
check "the config passes --dangerously-skip-permissions" grep -q 'dangerously-skip-permissions' "$E2E_CONFIG"
e2e_fakeapi e2e_seed3
e2e_start
check "start exits 69 (agent unavailable)" test "$E2E_RC" = 69
check "the CLI's own reason is quoted" grep -q "before starting (no system/init line): .*dangerously-skip-permissions" "$T/ralphsup.out"
pyprog "one iteration, no school failed, both pending" <<'PY'
p = P()
if p["iterations"] != 1: die("iterations %r" % p["iterations"])
if p["failed"] or p["completed"]: die("failed/completed %r %r" % (p["failed"], p["completed"]))
if p["pending"] != ["Cached College", "Uncached University"]: die("pending %r" % p["pending"])
if not p["stopped"] or "before starting" not in p["stopped"]["reason"]: die("stopped %r" % p["stopped"])
PY
e2e_finish
