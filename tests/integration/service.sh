#!/bin/bash
# Running as a service (docs/operations.md), with real parts only: a
# NOTIFY_SOCKET receiver (notify_socket.py, an AF_UNIX datagram socket in a
# temp dir) that records what ralphsup sends over a scripted-agent run with
# a SIGHUP in the middle (READY=1 … RELOADING=1 + MONOTONIC_USEC … READY=1 …
# STOPPING=1, in that order; WATCHDOG=1 at half of WATCHDOG_USEC); the
# agents' environment without NOTIFY_SOCKET / WATCHDOG_* / LISTEN_* and with
# OTEL_RESOURCE_ATTRIBUTES when CLAUDE_CODE_ENABLE_TELEMETRY is set; the
# [notify] command run for school-failed and batch-finished with the event on
# stdin and in RALPHSUP_*; its failures (exit status, timeout: process group
# killed) logged and never fatal; budget-crossed and batch-stopped; the
# [metrics] textfile checked by promtool; a bad [notify] events name refused.
source "$(dirname "$0")/lib.sh"

PROMTOOL=$(command -v promtool || true)

# with_env_dump DIR: the agent command writes its environment to DIR/.fake/env.<school run>
with_env_dump() {
    mv "$1/.bin/claude" "$1/.bin/claude-real"
    cat >"$1/.bin/claude" <<EOF
#!/bin/bash
env >"$1/.fake/env.\$RALPHSUP_ITERATION"
exec "$1/.bin/claude-real" "\$@"
EOF
    chmod +x "$1/.bin/claude"
}

# ---- the notification socket, the watchdog, SIGHUP, notifications, metrics ---------------
A=$(new_tmp)
make_batch "$A" "Alpha University" "Beta University" "Gamma University"
mkdir -p "$A/.fake"
with_env_dump "$A"
plan "$A" '{"Alpha University": {"default": "slow_done"}, "Beta University": {"default": "failed_permanent"}}'
cat >"$A/notify.sh" <<'EOF'
#!/bin/bash
# A [notify] command: one line per event, "name|school|batch|message|<stdin>"
json=$(cat)
printf '%s|%s|%s|%s|%s\n' "$RALPHSUP_EVENT" "${RALPHSUP_SCHOOL:-}" "$RALPHSUP_BATCH" "$RALPHSUP_MESSAGE" "$json" >>"$NOTIFY_OUT"
EOF
chmod +x "$A/notify.sh"
cat >>"$A/config/batch.toml" <<EOF

[notify]
command = ["$A/notify.sh"]
events = ["school-failed", "batch-finished"]

[metrics]
textfile = "metrics/ralphsup.prom"
EOF
mkdir -p "$A/metrics" "$A/sock"
"$PY" "$RALPHSUP_SOURCE_ROOT/tests/integration/notify_socket.py" --socket "$A/sock/notify" --log "$A/sd.jsonl" \
    --max-seconds 120 &
T_PIDS+=("$!")
wait_for 10 test -e "$A/sd.jsonl.ready" || not_ok "the notify socket receiver started"
t0=$(date +%s%N)
NOTIFY_OUT="$A/notified.txt" NOTIFY_SOCKET="$A/sock/notify" WATCHDOG_USEC=1000000 LISTEN_FDS=3 LISTEN_PID=1 \
    CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_RESOURCE_ATTRIBUTES="team=research,site=a%2Cb" FAKE_SLOW_S=3 \
    bg_start "$A/sup.out" bash -c 'WATCHDOG_PID=$$ exec "$0" start "$1"' "$RALPHSUP" "$A/config/batch.toml"
SUP=$BG_PID
wait_for 20 grep -qs '^Alpha University|' "$A/.fake/log" || not_ok "the first agent started"
wait_for 10 grep -qs '"msg": "READY=1"' "$A/sd.jsonl" || not_ok "READY=1 came before the SIGHUP"
sleep 0.5
kill -HUP "$SUP"
bg_wait "$SUP"
secs=$(( ($(date +%s%N) - t0) / 1000000000 ))
assert_eq "$BG_RC" 0 "the batch finishes (exit 0) with a SIGHUP in the middle"
sleep 0.3
# The datagrams in order (WATCHDOG=1 and STATUS= lines aside).
order=$("$PY" - "$A/sd.jsonl" <<'EOF'
import json, sys
out = []
for l in open(sys.argv[1]):
    m = json.loads(l)["msg"]
    if m == "WATCHDOG=1" or m.startswith("STATUS="):
        continue
    first = m.split("\n")[0]
    if first.startswith("RELOADING=1"):
        mono = [x for x in m.split("\n") if x.startswith("MONOTONIC_USEC=")]
        first += "+MONO" if mono and mono[0][15:].isdigit() and int(mono[0][15:]) > 0 else "+NOMONO"
    out.append(first)
print(" ".join(out))
EOF
)
assert_eq "$order" "READY=1 RELOADING=1+MONO READY=1 STOPPING=1" \
    "sd_notify: READY=1, RELOADING=1 with MONOTONIC_USEC, READY=1 again, STOPPING=1, in that order"
reloaded=$(grep -c 'READY=1\\nSTATUS=limits reloaded' "$A/sd.jsonl")
assert_eq "$reloaded" 1 "the READY=1 after the reload carries STATUS=limits reloaded: …"
st=$(grep -c '"msg": "STATUS=\[' "$A/sd.jsonl")
assert_le 1 "$st" "STATUS= carries the live line ($st times)"
"$PY" - "$A/sd.jsonl" "$secs" <<'EOF' && ok "STATUS= is sent at most once a second" || not_ok "STATUS= is sent at most once a second"
import json, sys
t = [json.loads(l)["t"] for l in open(sys.argv[1]) if json.loads(l)["msg"].startswith("STATUS=[")]
sys.exit(0 if all(b - a >= 0.95 for a, b in zip(t, t[1:])) else 1)
EOF
# WATCHDOG_USEC=1 s (WATCHDOG_PID = ralphsup's pid, through exec): a ping every 500 ms, none later than the 1 s deadline.
cad=$("$PY" - "$A/sd.jsonl" <<'EOF'
import json, sys
t = [json.loads(l)["t"] for l in open(sys.argv[1]) if json.loads(l)["msg"] == "WATCHDOG=1"]
g = sorted(b - a for a, b in zip(t, t[1:]))
print(len(t), round(g[len(g) // 2] * 1000) if g else 0, round(g[-1] * 1000) if g else 0)
EOF
)
read -r wn wmed wmax <<<"$cad"
diag "watchdog: $wn pings in ~${secs}s, median gap ${wmed} ms, max gap ${wmax} ms"
assert_le "$((secs - 1))" "$wn" "WATCHDOG=1 about twice a second (${wn} pings in ~${secs} s)"
assert_le 400 "$wmed" "WATCHDOG=1 every ~500 ms (median gap ${wmed} ms >= 400)"
assert_le "$wmed" 700 "WATCHDOG=1 every ~500 ms (median gap ${wmed} ms <= 700)"
assert_le "$wmax" 999 "no WATCHDOG=1 gap reaches WATCHDOG_USEC (max ${wmax} ms)"
# The agents' environment.
envf="$A/.fake/env.1"
[ -s "$envf" ] && ok "the agent's environment was recorded" || not_ok "the agent's environment was recorded"
for v in NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID LISTEN_FDS LISTEN_PID; do
    assert_not_contains "$(cut -d= -f1 "$envf")" "$v" "the agent does not see $v"
done
assert_eq "$(grep '^OTEL_RESOURCE_ATTRIBUTES=' "$envf")" \
    "OTEL_RESOURCE_ATTRIBUTES=team=research,site=a%2Cb,ralphsup.batch=itest,ralphsup.school=Alpha%20University,ralphsup.attempt=1,ralphsup.iteration=1" \
    "OTEL_RESOURCE_ATTRIBUTES: the user's value, then batch, school (percent-encoded), attempt and iteration"
assert_contains "$(grep '^OTEL_RESOURCE_ATTRIBUTES=' "$A/.fake/env.3")" "ralphsup.school=Gamma%20University,ralphsup.attempt=1,ralphsup.iteration=3" \
    "each agent gets its own school and iteration"
# Notifications.
n=$(cut -d'|' -f1,2,3 "$A/notified.txt" 2>/dev/null | tr '\n' ';')
assert_eq "$n" "school-failed|Beta University|itest;batch-finished||itest;" \
    "[notify] ran for school-failed (Beta) and batch-finished, nothing else (events = [...])"
"$PY" - "$A/notified.txt" <<'EOF' && ok "the command got the events.jsonl record as JSON on stdin" || not_ok "the command got the events.jsonl record as JSON on stdin"
import json, sys
lines = [l.rstrip("\n").split("|", 4) for l in open(sys.argv[1])]
a = json.loads(lines[0][4]); b = json.loads(lines[1][4])
ok = (a["event"] == "school-failed" and a["school"] == "Beta University" and "staff directory unreachable" in a["reason"]
      and b["event"] == "batch-finished" and b["completed"] == 2 and b["failed"] == 1)
sys.exit(0 if ok else 1)
EOF
assert_contains "$(sed -n 1p "$A/notified.txt" | cut -d'|' -f4)" "ralphsup itest: Beta University failed: agent reported failure (not retryable): staff directory unreachable" \
    "RALPHSUP_MESSAGE: a one-line summary"
assert_eq "$(events "$A/logs/events.jsonl" 'e["event"] == "notify-sent"' | wc -l)" 2 "each run is logged (notify-sent)"
# Metrics.
M="$A/metrics/ralphsup.prom"
if [ -n "$PROMTOOL" ]; then
    out=$("$PROMTOOL" check metrics <"$M" 2>&1) && ok "promtool check metrics accepts the textfile" ||
        { not_ok "promtool check metrics accepts the textfile"; diag "$out"; }
else
    not_ok "promtool is installed (Debian package prometheus; contrib/setup.sh)"
fi
assert_contains "$(cat "$M")" 'ralphsup_schools{batch="itest",state="completed"} 2' "metrics: 2 schools completed"
assert_contains "$(cat "$M")" 'ralphsup_schools{batch="itest",state="failed"} 1' "metrics: 1 school failed"
assert_contains "$(cat "$M")" 'ralphsup_iterations_total{batch="itest",outcome="completed"} 2' "metrics: iterations by outcome"
assert_contains "$(cat "$M")" 'ralphsup_batch_finished{batch="itest"} 1' "metrics: batch finished"
assert_contains "$(cat "$M")" 'ralphsup_workers_running{batch="itest"} 0' "metrics: no worker running at the end"
assert_contains "$(cat "$M")" '# TYPE ralphsup_cost_usd_total counter' "metrics: typed, the cost a counter"
ls "$A/metrics" | grep -v '^ralphsup.prom$' >/dev/null && not_ok "metrics: no temp file left" || ok "metrics: no temp file left"

# ---- failing notification commands are logged, never fatal; the process group is killed ----
B=$(new_tmp)
make_batch "$B" "Alpha University" "Beta University"
plan "$B" '{"Beta University": {"default": "failed_permanent"}}'
cat >"$B/notify.sh" <<'EOF'
#!/bin/bash
cat >/dev/null
case "$RALPHSUP_EVENT" in
school-failed) echo "boom: no route to the chat server" >&2; exit 3 ;;
batch-finished) sleep 61.25 & echo $! >"$NOTIFY_PIDS"; wait ;;
esac
EOF
chmod +x "$B/notify.sh"
cat >>"$B/config/batch.toml" <<EOF

[notify]
command = ["$B/notify.sh"]
timeout = "1s"
EOF
t0=$(date +%s%N)
NOTIFY_PIDS="$B/notify.pids" rs start "$B/config/batch.toml"
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "$RS_RC" 0 "a failing and a hanging notification do not change the exit code"
assert_le "$dt" 15000 "the hanging one is cut at its timeout (start took ${dt} ms)"
f=$(events "$B/logs/events.jsonl" 'e["event"] == "notify-failed"')
assert_contains "$f" '"for": "school-failed", "message": "exit status 3: boom: no route to the chat server"' \
    "notify-failed: the exit status and the first line of stderr"
assert_contains "$f" '"for": "batch-finished", "message": "timed out after 1000 ms (process group killed)"' \
    "notify-failed: the timeout"
gp=$(cat "$B/notify.pids" 2>/dev/null)
[ -n "$gp" ] && ! pid_alive "$gp" && ok "the timed-out command's background child is gone (its group was killed)" ||
    not_ok "the timed-out command's background child is gone (its group was killed)"

# ---- budget-crossed and batch-stopped -------------------------------------------------------
C=$(new_tmp)
LIMITS='max_cost_usd = 0.02' make_batch "$C" "Alpha University" "Beta University" "Gamma University"
cat >>"$C/config/batch.toml" <<EOF

[notify]
command = ["/bin/sh", "-c", "cat >>'$C/notified.jsonl'"]
events = ["budget-crossed", "batch-stopped"]

# The streamed estimate stays far below the cap (the recorded cost is each result line's
# total_cost_usd, $0.0123): else whether the in-flight check kills the first school before its
# RALPH_DONE is read depends on how the agent's lines reach the pipe.
[prices."claude-opus-4-8"]
input = 0.001
output = 0.001
EOF
rs start "$C/config/batch.toml"
assert_eq "$RS_RC" 3 "max_cost_usd stops the batch (exit 3)"
first=$(head -1 "$C/notified.jsonl" 2>/dev/null)
assert_contains "$first" '"event":"budget-crossed","percent":50' "budget-crossed 50 % after the first school (\$0.0123 of \$0.02)"
# Up to 4 notifications run at once: the lines need not come in the order of the events.
stopped=$(grep '"event":"batch-stopped"' "$C/notified.jsonl")
assert_eq "$(printf '%s\n' "$stopped" | grep -c .)" 1 "batch-stopped is notified once"
assert_contains "$stopped" '"reason":"max_cost_usd' "… with the reason (the limit)"
assert_contains "$stopped" '"exit_code":3' "… and the exit code"

# ---- a bad [notify] events name is refused with its place ---------------------------------
D=$(new_tmp)
make_batch "$D" "Alpha University"
printf '\n[notify]\ncommand = ["true"]\nevents = ["batch-finishd"]\n' >>"$D/config/batch.toml"
rs start "$D/config/batch.toml"
assert_eq "$RS_RC" 78 "an unknown [notify] events name: exit 78"
assert_contains "$RS_OUT" '[notify] events: unknown event "batch-finishd"; did you mean "batch-finished"?' \
    "… naming the key, the value and the way out"
head -n -4 "$D/config/batch.toml" >"$D/config/b2.toml"
printf '\n[notify]\ncommand = []\n' >>"$D/config/b2.toml"
rs start "$D/config/b2.toml"
assert_eq "$RS_RC" 78 "an empty [notify] command: exit 78"
assert_contains "$RS_OUT" "[notify] command: expected the program and its arguments" "… saying what is expected"

finish
