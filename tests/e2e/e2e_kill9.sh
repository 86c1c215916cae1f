#!/bin/bash
# e2e_kill9.sh: kill -9 of `ralphsup start` while the real CLI's Bash tool runs
# `trap '' TERM; sleep 300` (scenario tests/fakeapi/scenarios/e2e_kill9.json):
# the sleep ignores SIGTERM and runs in the session the Bash tool gives it.
#
# Expected (docs/processes.md, the iteration keeper): with no `start` run
# again, no claude/bash/sleep process of the iteration is left kill_grace
# (3 s) + 1 s after the kill, and the sleep was not killed before kill_grace
# (TERM first, KILL after the grace). A second `start` requeues the
# interrupted school (no attempt burned) and completes the batch.
. "$(dirname "$0")/lib.sh"
e2e_init kill9
e2e_batch '{"batch_name": "e2e-kill9", "schools": [
  {"name": "Kill First University", "conference": "E2E Conference", "state": "NV"},
  {"name": "Kill Second College", "conference": "E2E Conference", "state": "NV"}
]}' 'kill_grace = "3s"'
e2e_fakeapi e2e_kill9

e2e_start_bg
SLEEP=$(e2e_wait_cmdline "sleep 300")
check "the agent's Bash tool is running sleep 300 (tagged with the batch's run token)" test -n "$SLEEP"
if [ -z "$SLEEP" ]; then e2e_finish; exit 1; fi
# SIGTERM is signal 15: bit 14 of SigIgn, the 4th hex digit from the right.
check "the sleep ignores SIGTERM (trap '' TERM in the Bash tool's shell)" grep -qs '^SigIgn:.*[4-7c-f]...$' "/proc/$SLEEP/status"
sid=$(cut -d' ' -f6 "/proc/$SLEEP/stat" 2>/dev/null)
note "sleep 300 is PID $SLEEP (session $sid, its own process group $(cut -d' ' -f5 "/proc/$SLEEP/stat" 2>/dev/null)); kill -9 of ralphsup (PID $E2E_SUP_PID)"
sleep 0.5
t0=$(date +%s%N)
kill -KILL "$E2E_SUP_PID"
e2e_wait_sup
check "ralphsup died of the SIGKILL (137)" test "$E2E_RC" = 137
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }
# Before kill_grace the TERM-ignoring sleep must still run (TERM first).
sleep 1.5
t_mid=$(ms)
if [ "$t_mid" -lt 2800 ]; then
    check "${t_mid} ms after the kill (kill_grace 3 s) the TERM-ignoring sleep still runs: TERM first, KILL after the grace" test -d "/proc/$SLEEP"
else
    note "the mid-grace check came too late (${t_mid} ms) on this loaded machine; skipped"
fi
gone=""
while :; do
    now=$(ms)
    if [ -z "$(e2e_batch_pids)" ]; then gone=$now; break; fi
    [ "$now" -ge 4000 ] && break
    sleep 0.1
done
check "no claude/bash/sleep process of the iteration is left at kill_grace + 1 s after kill -9, without a start (gone after ${gone:-never} ms)" test -n "$gone"
check "the sleep 300 (PID $SLEEP) is gone" test ! -d "/proc/$SLEEP"
e2e_no_survivors || true

pyprog "progress after kill -9: the school is still current (the supervisor recorded nothing)" <<'EOF'
p = P()
if not p.get("current") or p["current"]["name"] != "Kill First University": die("current %r" % p.get("current"))
print("current: %s, run token %s" % (p["current"]["name"], p["current"].get("run_token")))
EOF

# The next start requeues the interrupted school and completes both.
e2e_start
check "the second start exits 0 (batch finished)" test "$E2E_RC" = 0
check "the second start requeued the interrupted school" grep -q "requeued Kill First University" "$T/ralphsup.out"
pyprog "after the second start: both completed, the interrupted school with attempt 1 (none burned)" <<'EOF'
p = P()
if p["status"] != "finished" or p["pending"] or p["failed"]: die("state %r" % p["status"])
done = {c["name"]: c for c in p["completed"]}
if set(done) != {"Kill First University", "Kill Second College"}: die("completed %r" % list(done))
a = done["Kill First University"]["attempts"]
if [x["attempt"] for x in a if x["outcome"] == "completed"] != [1]: die("attempts %r" % a)
if not os.path.exists(os.path.join(B, done["Kill First University"]["csv"])): die("CSV missing")
print("attempts: %r" % [(x["attempt"], x["outcome"]) for x in a])
EOF

e2e_common_checks
e2e_finish
