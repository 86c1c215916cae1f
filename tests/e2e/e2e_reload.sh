#!/bin/bash
# e2e_reload.sh: `ralphsup reload CONFIG` (SIGHUP) after lowering max_cost_usd
# below what the batch has already spent stops the batch with exit 3.
#
# Scenario tests/fakeapi/scenarios/e2e_reload.json: every turn costs $0.50;
# "Reload Fast College" completes for $1.00, "Reload Slow University" runs
# Bash `sleep 20` after its first $0.50 turn. While that sleep runs ($1.50
# spent in all) the config's max_cost_usd goes from 10 to 1.2 and reload is
# sent: the running iteration must be stopped at once, the school requeued at
# the front, exit 3, and the limit named in the last commit and in the
# progress file's "stopped".
. "$(dirname "$0")/lib.sh"
e2e_init reload
e2e_batch '{"batch_name": "e2e-reload", "schools": [
  {"name": "Reload Fast College", "conference": "E2E Conference", "state": "UT"},
  {"name": "Reload Slow University", "conference": "E2E Conference", "state": "UT"},
  {"name": "Reload Other College", "conference": "E2E Conference", "state": "UT"}
]}' 'max_cost_usd = 10.0'
e2e_fakeapi e2e_reload

e2e_start_bg
SLEEP=$(e2e_wait_cmdline "sleep 20")
check "the slow school's Bash sleep 20 is running" test -n "$SLEEP"
if [ -z "$SLEEP" ]; then e2e_finish; exit 1; fi

sed -i 's/^max_cost_usd = 10.0$/max_cost_usd = 1.2/' "$E2E_CONFIG"
check "config edited: max_cost_usd = 1.2" grep -q '^max_cost_usd = 1.2$' "$E2E_CONFIG"
out="$(env -i "${E2E_ENV[@]}" "$RALPHSUP" reload "$E2E_CONFIG" 2>&1)"
rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
check "ralphsup reload exits 0" test "$rc" = 0
E2E_T0=$(date +%s.%N)
e2e_wait_sup
check "start exits 3 (limit)" test "$E2E_RC" = 3
check "stopped within kill_grace + 1 s of the reload (${E2E_SECS}s)" awk -v s="$E2E_SECS" 'BEGIN { exit !(s <= 4.0) }'
check "the sleep 20 (PID $SLEEP) is gone" test ! -d "/proc/$SLEEP"

pyprog "progress: stopped by max_cost_usd, slow school requeued at the front, 1 completed" <<'EOF'
p = P()
st = p.get("stopped") or {}
if p["status"] != "stopped": die("status %r" % p["status"])
if st.get("limit") != "max_cost_usd" or "max_cost_usd" not in st.get("reason", ""): die("stopped %r" % st)
if [c["name"] for c in p["completed"]] != ["Reload Fast College"]: die("completed %r" % p["completed"])
if p["pending"] != ["Reload Slow University", "Reload Other College"]: die("pending %r" % p["pending"])
if p["current"] or p["failed"]: die("current/failed")
hist = [a for r in p.get("retry_history", []) for a in r.get("attempts", [])]
if any(a.get("outcome") == "failed" for a in hist): die("an attempt was burned: %r" % hist)
if not 1.2 < p["cost_usd"] <= 1.5 + 1e-6: die("cost %r" % p["cost_usd"])
print("stopped: %s (cost $%.2f)" % (st["reason"], p["cost_usd"]))
EOF

pyprog "git: the reload is committed (max_cost_usd 10 -> 1.2), the last commit names the limit" <<'EOF'
G = GITLOG()
rl = [c for c in G if c["trailers"].get("Ralphsup-Event") == ["limits-reloaded"]]
if len(rl) != 1 or "max_cost_usd" not in rl[0]["subject"] or "1.2" not in rl[0]["subject"]: die("reload commits %r" % [c["subject"] for c in rl])
last = G[-1]
if last["trailers"].get("Ralphsup-Event") != ["stopped"]: die("last commit %r" % last["subject"])
if "max_cost_usd" not in last["subject"] + last["body"]: die("limit not named: %r / %r" % (last["subject"], last["body"]))
head = subprocess.run(["git", "-C", B, "show", "HEAD:batch_progress.json"], capture_output=True, text=True).stdout
if json.loads(head) != P(): die("HEAD's progress file differs from the working file")
print(rl[0]["subject"]); print(last["subject"])
EOF

pyprog "events.jsonl: limits-reloaded, then the iteration stopped for max_cost_usd, batch-stopped exit 3" <<'EOF'
E = EV()
names = [e["event"] for e in E]
i = names.index("limits-reloaded")
later = [e for e in E[i:] if e["event"] in ("stop-iteration", "batch-stopped")]
if [e["event"] for e in later] != ["stop-iteration", "batch-stopped"]: die("events after reload %r" % names[i:])
if "max_cost_usd" not in later[0]["reason"] or later[1]["exit_code"] != 3 or later[1]["limit"] != "max_cost_usd": die("%r" % later)
EOF

e2e_common_checks
e2e_finish
