#!/bin/bash
# e2e_cancel.sh: SIGTERM to `ralphsup start` while the agent's Bash tool runs
# `sleep 300` (scenario tests/fakeapi/scenarios/e2e_cancel.json).
#
# Expected: exit 143 within kill_grace (3 s) + 1 s; the school back at the
# FRONT of pending with no attempt counted; status "cancelled"; the state
# committed; no claude/bash/sleep process of the iteration left. A second
# `start` completes the batch (the resumed school with attempt 1 again).
. "$(dirname "$0")/lib.sh"
e2e_init cancel
e2e_batch '{"batch_name": "e2e-cancel", "schools": [
  {"name": "Cancel First University", "conference": "E2E Conference", "state": "NV"},
  {"name": "Cancel Second College", "conference": "E2E Conference", "state": "NV"}
]}' 'kill_grace = "3s"'
e2e_fakeapi e2e_cancel

e2e_start_bg
SLEEP=$(e2e_wait_cmdline "sleep 300")
check "the agent's Bash tool is running sleep 300 (tagged with the batch's run token)" test -n "$SLEEP"
if [ -z "$SLEEP" ]; then e2e_finish; exit 1; fi
note "sleep 300 is PID $SLEEP; sending SIGTERM to ralphsup (PID $E2E_SUP_PID)"
sleep 0.5
E2E_T0=$(date +%s.%N)   # e2e_wait_sup measures from here: signal -> exit
kill -TERM "$E2E_SUP_PID"
e2e_wait_sup
check "exit code 143" test "$E2E_RC" = 143
check "exit within kill_grace + 1 s of the SIGTERM (${E2E_SECS}s)" awk -v s="$E2E_SECS" 'BEGIN { exit !(s <= 4.0) }'
check "no claude/bash/sleep process of the iteration survives the cancel" e2e_no_survivors
check "the sleep 300 (PID $SLEEP) is gone" test ! -d "/proc/$SLEEP"

pyprog "cancel took at most kill_grace + 1 s (events.jsonl: cancel -> batch-stopped)" <<'EOF'
import datetime
E = EV()
def t(e): return datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()
c = [e for e in E if e["event"] == "cancel"]
s = [e for e in E if e["event"] == "batch-stopped"]
if len(c) != 1 or len(s) != 1: die("cancel %r stopped %r" % (c, s))
dt = t(s[0]) - t(c[0])
print("signal -> stopped: %.2f s; reason: %s" % (dt, s[0]["reason"]))
if dt > 4.0: die("too slow")
if s[0]["exit_code"] != 143: die("exit_code %r" % s[0]["exit_code"])
EOF

pyprog "progress: cancelled, the school at the front of pending, no attempt counted, committed" <<'EOF'
p = P()
if p["status"] != "cancelled": die("status %r" % p["status"])
if p["pending"] != ["Cancel First University", "Cancel Second College"]: die("pending %r" % p["pending"])
if p["current"] or p["completed"] or p["failed"]: die("current/completed/failed not empty")
if "SIGTERM" not in (p.get("stopped") or {}).get("reason", ""): die("stopped %r" % p.get("stopped"))
hist = [a for r in p.get("retry_history", []) for a in r.get("attempts", [])]
if any(a.get("outcome") == "failed" for a in hist): die("an attempt was burned: %r" % hist)
print("stopped: %s; attempts recorded: %r" % (p["stopped"]["reason"], [(a["attempt"], a["outcome"]) for a in hist]))
G = GITLOG()
if G[-1]["trailers"].get("Ralphsup-Event") != ["stopped"]: die("last commit %r" % G[-1]["subject"])
head = subprocess.run(["git", "-C", B, "show", "HEAD:batch_progress.json"], capture_output=True, text=True).stdout
if json.loads(head) != p: die("HEAD's progress file differs from the working file")
EOF

# The resumed run completes both schools.
e2e_start
check "the second start exits 0 (batch finished)" test "$E2E_RC" = 0
pyprog "after the second start: both completed, the cancelled school with attempt 1 (none burned)" <<'EOF'
p = P()
if p["status"] != "finished" or p["pending"] or p["failed"]: die("state %r" % p["status"])
done = {c["name"]: c for c in p["completed"]}
if set(done) != {"Cancel First University", "Cancel Second College"}: die("completed %r" % list(done))
a = done["Cancel First University"]["attempts"]
if [(x["attempt"], x["outcome"]) for x in a] != [(1, "cancelled"), (1, "completed")]: die("attempts %r" % a)
if not os.path.exists(os.path.join(B, done["Cancel First University"]["csv"])): die("CSV missing")
if p["iterations"] != 3: die("iterations %r" % p["iterations"])
EOF

e2e_common_checks
e2e_finish
