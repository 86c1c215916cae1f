#!/bin/bash
# Parallel workers ([limits] jobs > 1), end to end with the scripted fake CLI:
# the fault scenarios of failures.sh (tests/integration/faults.sh) classified
# the same with jobs = 4 as with jobs = 1; never one school in two workers and
# never more than jobs at once; one shared budget that stops every worker with
# exit 3 inside the documented overshoot; kill -9 of a jobs = 4 run, then start
# again: every school in flight requeued, all finish, none lost or done twice;
# SIGTERM stops every worker (143); a failed save is a state: nothing spawned
# after it, exit 74.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults.sh"

# classification DIR: per school, where it ended and each attempt's (outcome, class)
classification() {
    "$PY" - "$1/batch_progress.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = {}
for place in ("completed", "failed"):
    for s in d[place]:
        out[s["name"]] = [place] + ["%s/%s" % (a.get("outcome"), a.get("class")) for a in s["attempts"]]
for n in d["pending"]:
    out[n] = ["pending"]
for k in sorted(out):
    print(k + ": " + " ".join(out[k]))
PY
}
# overlap DIR: "max_in_flight max_same_school" from the iteration-started/-finished events
overlap() {
    "$PY" - "$1/logs/events.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cur, per, mx, mxs = 0, {}, 0, 0
for e in ev:
    if e.get("event") == "iteration-started":
        cur += 1
        per[e["school"]] = per.get(e["school"], 0) + 1
        mx = max(mx, cur)
        mxs = max(mxs, per[e["school"]])
    elif e.get("event") == "iteration-finished":
        cur -= 1
        per[e["school"]] -= 1
print(mx, mxs)
PY
}

# inflight_is FILE N: the progress file lists N schools in flight
inflight_is() { [ "$(jq '.in_progress | length' "$1" 2>/dev/null)" = "$2" ]; }

# ---- the fault scenarios: jobs = 1 and jobs = 4 classify alike -----------------------
A1=$(new_tmp)
fault_batch "$A1"
rs start "$A1/config/batch.toml"
assert_eq "$RS_RC" 0 "faults, jobs = 1: exit 0"
A4=$(new_tmp)
fault_batch "$A4" 'jobs = 4
spawn_interval = "200ms"'
t0=$(date +%s)
rs start "$A4/config/batch.toml"
t1=$(date +%s)
assert_eq "$RS_RC" 0 "faults, jobs = 4: exit 0 (ran in $((t1 - t0)) s)"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
c1=$(classification "$A1")
c4=$(classification "$A4")
if [ "$c1" = "$c4" ]; then ok "faults: jobs = 4 gives the same classification as jobs = 1 ($(echo "$c1" | wc -l) schools)"
else not_ok "faults: jobs = 4 gives the same classification as jobs = 1"; diag "$(diff <(echo "$c1") <(echo "$c4"))"; fi
read -r mx mxs <<<"$(overlap "$A4")"
assert_le "$mx" 4 "faults, jobs = 4: never more than 4 iterations in flight (max $mx)"
assert_le 2 "$mx" "faults, jobs = 4: iterations did run in parallel (max $mx in flight)"
assert_eq "$mxs" 1 "faults, jobs = 4: never one school in two workers at once"
no_batch_survivors "$A4" "faults, jobs = 4: no process of any iteration survives"
n=$(events "$A4/logs/events.jsonl" 'e.get("event") == "iteration-started" and isinstance(e.get("worker"), int) and 1 <= e["worker"] <= 4' | wc -l)
runs=$(fake_log "$A4" | wc -l)
assert_eq "$n" "$runs" "faults, jobs = 4: every iteration-started event names its worker slot (1-4)"
assert_file_json "$A4/batch_progress.json" 'd["in_progress"] == [] and d["current"] is None and d["status"] == "finished"' \
    "faults, jobs = 4: nothing in flight at the end"

# ---- one budget: the batch cap stops every worker, exit 3 -------------------------------
B=$(new_tmp)
LIMITS='jobs = 4
spawn_interval = "100ms"
max_cost_usd = 1' make_batch "$B" B1 B2 B3 B4 B5 B6 B7 B8
plan "$B" '{"B1":{"default":"slow_spend"},"B2":{"default":"slow_spend"},"B3":{"default":"slow_spend"},"B4":{"default":"slow_spend"},"B5":{"default":"slow_spend"},"B6":{"default":"slow_spend"},"B7":{"default":"slow_spend"},"B8":{"default":"slow_spend"}}'
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 3 "budget, jobs = 4: exit 3 when max_cost_usd is reached"
[ "$RS_RC" = 3 ] || diag "$RS_OUT"
no_batch_survivors "$B" "budget: every worker's tree is gone"
# Each message costs $0.10 (20,000 input tokens at $5/Mtok); the bound is one message per running worker.
assert_file_json "$B/batch_progress.json" '1.0 <= d["cost_usd"] <= 1.0 + 4 * 0.10 + 1e-9' \
    "budget: spend $(json_get "$B/batch_progress.json" 'd["cost_usd"]') is at the cap plus at most one \$0.10 message per worker"
assert_file_json "$B/batch_progress.json" 'd["completed"] == [] and d["failed"] == [] and d["in_progress"] == [] and sorted(d["pending"]) == ["B%d" % i for i in range(1, 9)]' \
    "budget: every school in flight requeued, none failed or lost"
assert_file_json "$B/batch_progress.json" 'all(a["outcome"] == "stopped" and a["class"] == "limit" and a["attempt"] == 1 for h in d["retry_history"] for a in h["attempts"]) and sum(len(h["attempts"]) for h in d["retry_history"]) >= 2' \
    "budget: the stopped iterations are class limit, no attempt counted"
assert_file_json "$B/batch_progress.json" 'd["stopped"]["limit"] == "max_cost_usd" and "requeued at the front of pending" in d["stopped"]["reason"]' \
    "budget: stopped.limit is max_cost_usd and the reason names the requeued schools"
n=$(events "$B/logs/events.jsonl" 'e.get("event") == "iteration-started"' | wc -l)
assert_le "$n" 4 "budget: no worker started after the cap ($n started)"

# ---- kill -9 of a jobs = 4 run, then start again ---------------------------------------
K=$(new_tmp)
LIMITS='jobs = 4
spawn_interval = "100ms"' AGENT_ENV='FAKE_SLOW_S = "3"' make_batch "$K" K1 K2 K3 K4 K5 K6 K7 K8
plan "$K" '{"K1":{"default":"slow_done"},"K2":{"default":"slow_done"},"K3":{"default":"slow_done"},"K4":{"default":"slow_done"},"K5":{"default":"slow_done"},"K6":{"default":"slow_done"},"K7":{"default":"slow_done"},"K8":{"default":"slow_done"}}'
bg_start "$K/run1.log" "$RALPHSUP" start "$K/config/batch.toml"
pid=$BG_PID
wait_for 20 inflight_is "$K/batch_progress.json" 4
inflight=$(jq -r '[.in_progress[].name] | join(" ")' "$K/batch_progress.json")
assert_eq "$inflight" "K1 K2 K3 K4" "kill -9: four schools in flight, in batch order, listed in in_progress"
assert_file_json "$K/batch_progress.json" 'd["current_school"] == "K1" and d["current"]["name"] == "K1" and all(x["run_token"] and x["pid"] > 0 for x in d["in_progress"])' \
    "kill -9: current_school is the one in flight longest; each entry has its pid and run token"
kill -9 "$pid"
bg_wait "$pid"
rs status "$K/config/batch.toml" --json
assert_contains "$RS_OUT" '"in_progress"' "kill -9: status --json lists the schools in flight"
rs start "$K/config/batch.toml"
assert_eq "$RS_RC" 0 "kill -9: start again finishes the batch"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
assert_file_json "$K/batch_progress.json" 'sorted(x["name"] for x in d["completed"]) == ["K%d" % i for i in range(1, 9)] and d["pending"] == [] and d["failed"] == [] and d["in_progress"] == []' \
    "kill -9: all 8 completed, once each; none lost"
assert_file_json "$K/batch_progress.json" 'all(len([a for a in x["attempts"] if a["outcome"] == "completed"]) == 1 for x in d["completed"])' \
    "kill -9: no school completed twice"
req=$(events "$K/logs/events.jsonl" 'e.get("event") == "requeued-interrupted"' | "$PY" -c 'import sys, json; print(" ".join(json.loads(l)["school"] for l in sys.stdin))')
assert_eq "$req" "K1 K2 K3 K4" "kill -9: every school in flight requeued, in batch order"
first4=$(events "$K/logs/events.jsonl" 'e.get("event") == "iteration-started"' | "$PY" -c 'import sys, json; print(" ".join(json.loads(l)["school"] for l in sys.stdin))' | awk '{print $5, $6, $7, $8}')
assert_eq "$first4" "K1 K2 K3 K4" "kill -9: the restart dispatches the requeued schools first, in batch order"
no_batch_survivors "$K" "kill -9: no process of the killed run survives"

# ---- SIGTERM stops every worker --------------------------------------------------------
C=$(new_tmp)
LIMITS='jobs = 3
spawn_interval = "100ms"' AGENT_ENV='FAKE_SLOW_S = "20"' make_batch "$C" C1 C2 C3 C4
plan "$C" '{"C1":{"default":"slow_done"},"C2":{"default":"slow_done"},"C3":{"default":"slow_done"},"C4":{"default":"slow_done"}}'
bg_start "$C/run.log" "$RALPHSUP" start "$C/config/batch.toml"
pid=$BG_PID
wait_for 20 inflight_is "$C/batch_progress.json" 3
kill -TERM "$pid"
bg_wait "$pid"
assert_eq "$BG_RC" 143 "SIGTERM, jobs = 3: exit 143"
assert_file_json "$C/batch_progress.json" 'd["status"] == "cancelled" and d["pending"] == ["C1", "C2", "C3", "C4"] and d["in_progress"] == []' \
    "SIGTERM: the three schools in flight requeued at the front, in batch order"
assert_file_json "$C/batch_progress.json" 'all(a["outcome"] == "cancelled" and a["attempt"] == 1 for h in d["retry_history"] for a in h["attempts"]) and len(d["retry_history"]) == 3' \
    "SIGTERM: no attempt counted"
assert_file_json "$C/batch_progress.json" '"C1, C2, C3 requeued" in d["stopped"]["reason"]' "SIGTERM: the reason names every requeued school"
no_batch_survivors "$C" "SIGTERM: every worker's tree is gone"

# ---- SIGHUP: jobs raised starts workers at once; lowered, nothing new until below -------
H=$(new_tmp)
LIMITS='jobs = 1
spawn_interval = "100ms"' AGENT_ENV='FAKE_SLOW_S = "4"' make_batch "$H" H1 H2 H3 H4 H5 H6
plan "$H" '{}'
sed -i 's/^FAKE_STATE = .*/&\nFAKE_DEFAULT = "slow_done"/' "$H/config/batch.toml"
bg_start "$H/run.log" "$RALPHSUP" start "$H/config/batch.toml"
pid=$BG_PID
wait_for 20 inflight_is "$H/batch_progress.json" 1
sed -i 's/^jobs = 1$/jobs = 3/' "$H/config/batch.toml"
rs reload "$H/config/batch.toml"
assert_eq "$RS_RC" 0 "reload: jobs 1 → 3 accepted"
if wait_for 3 inflight_is "$H/batch_progress.json" 3; then ok "reload: jobs raised to 3, three schools in flight within 3 s (the first still running)"
else not_ok "reload: jobs raised to 3, three schools in flight within 3 s"; fi
sed -i 's/^jobs = 3$/jobs = 1/' "$H/config/batch.toml"
rs reload "$H/config/batch.toml"
bg_wait "$pid"
assert_eq "$BG_RC" 0 "reload: the batch finishes"
read -r mx mxs <<<"$(overlap "$H")"
assert_eq "$mx" 3 "reload: never more than 3 in flight"
# After the lowering, no start while another worker is in flight (the running ones finish first).
lowered=$("$PY" - "$H/logs/events.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cur, after, bad = 0, False, 0
for e in ev:
    if e.get("event") == "limits-reloaded" and "jobs 3 → 1" in e.get("diff", ""):
        after = True
    elif e.get("event") == "iteration-started":
        if after and cur > 0:
            bad += 1
        cur += 1
    elif e.get("event") == "iteration-finished":
        cur -= 1
print(bad if after else "no-reload")
PY
)
assert_eq "$lowered" 0 "reload: jobs lowered to 1, nothing new started until the running ones finished"

# ---- a failed save is a state: nothing is spawned after it, exit 74 -------------------
for jobs in 1 2; do
    F=$(new_tmp)
    mkdir -p "$F/state"
    if ! mount -t tmpfs -o size=256k tmpfs "$F/state" 2>/dev/null; then
        ok "# SKIP save failure (jobs = $jobs): cannot mount a tmpfs here"
        continue
    fi
    LIMITS="jobs = $jobs
spawn_interval = \"100ms\"" AGENT_ENV="FAKE_FILL_DIR = \"$F/state\"
FAKE_FILL_AFTER_S = \"1\"
FAKE_SLOW_S = \"4\"" AGENT_WRITABLE=", \"$F/state\"" make_batch "$F" F1 F2 F3 F4
    sed -i "s|^schools = |progress = \"$F/state/batch_progress.json\"\nschools = |" "$F/config/batch.toml"
    plan "$F" '{"F1":{"default":"fill_disk"},"F2":{"default":"slow_done"},"F3":{"default":"done"},"F4":{"default":"done"}}'
    rs start "$F/config/batch.toml"
    assert_eq "$RS_RC" 74 "save failure, jobs = $jobs: exit 74"
    assert_contains "$RS_OUT" "fatal: cannot save the progress file" "save failure, jobs = $jobs: said"
    runs=$(fake_log "$F" | cut -d'|' -f1 | tr '\n' ' ')
    want="F1 "
    [ "$jobs" = 2 ] && want="F1 F2 "
    assert_eq "$runs" "$want" "save failure, jobs = $jobs: no agent started after the failed save (ran: $runs)"
    n=$(events "$F/logs/events.jsonl" 'e.get("event") == "save-failed"' | wc -l)
    assert_eq "$n" 1 "save failure, jobs = $jobs: one save-failed event"
    no_batch_survivors "$F" "save failure, jobs = $jobs: no process survives"
    umount "$F/state"
done

finish
