#!/bin/bash
# `ralphsup replay` runs a recorded transcript through the same parser and
# policy as the live supervisor: for every iteration of a real run whose
# verdict does not depend on time (stall/timeout) the replay prints the very
# verdict and reason the run recorded in logs/events.jsonl.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
LIMITS='max_attempts_per_school = 2' make_batch "$A" "Done University" "Wrong Count University" \
    "Permanent University" "No Marker University" "Exit Two University" "Repeat University" \
    "Transient University" "Wrong School University" "Escape University"
plan "$A" '{
  "Wrong Count University": {"default": "done_wrong_count"},
  "Permanent University": {"default": "failed_permanent"},
  "No Marker University": {"default": "no_marker"},
  "Exit Two University": {"default": "exit_nonzero"},
  "Repeat University": {"1": "repeat", "default": "done"},
  "Transient University": {"run1": "api_429", "default": "done"},
  "Wrong School University": {"1": "wrong_school", "default": "done"},
  "Escape University": {"default": "done_escape"}
}'
CA="$A/config/batch.toml"
rs start "$CA"
assert_eq "$RS_RC" 0 "the recorded run finished"

n=0
while IFS=$'\t' read -r school exit_status verdict reason transcript; do
    n=$((n + 1))
    code=${exit_status#exit }
    case "$code" in *[!0-9]*) code=0 ;; esac
    out=$("$RALPHSUP" replay "$transcript" --config "$CA" --school "$school" --exit-code "$code" 2>&1)
    rc=$?
    got=$(printf '%s\n' "$out" | sed -n 's/^verdict: //p')
    got_class=${got%% — *}
    got_class=${got_class% (permanent)}
    got_reason=${got#* — }
    if [ "$rc" = 0 ] && [ "$got_class" = "$verdict" ] && { [ "$verdict" = completed ] || [ "$got_reason" = "$reason" ]; }; then
        ok "replay of $(basename "$transcript") ($school): $verdict${reason:+ — $reason}"
    else
        not_ok "replay of $(basename "$transcript") ($school) prints the recorded verdict"
        diag "recorded: $verdict — $reason" "replayed: $got (rc $rc)"
    fi
done < <(events "$A/logs/events.jsonl" 'e.get("event") == "iteration-finished"' | "$PY" -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    print("\t".join([e["school"], e.get("exit_status", ""), e["verdict"], e.get("reason") or "", e["transcript"]]))')
assert_le 12 "$n" "replayed every iteration of the run ($n)"

# The repeat decision is reported where the supervisor stopped the agent.
t=$(ls "$A"/logs/*-repeat-university.jsonl | head -1)
out=$("$RALPHSUP" replay "$t" --config "$CA" --school "Repeat University" 2>&1)
assert_contains "$out" "the supervisor would stop the agent here: repeated Bash" "replay shows where the loop was stopped"
# Cost and counters come from the transcript.
t=$(ls "$A"/logs/*-done-university.jsonl | head -1)
out=$("$RALPHSUP" replay "$t" --config "$CA" --school "Done University" 2>&1)
assert_contains "$out" 'cost $0.012300' "replay reports the result's total_cost_usd"
assert_contains "$out" "tool calls 2" "replay counts the tool calls"
# A marker for another school is ignored with --school, accepted without it.
t=$(ls "$A"/logs/*-wrong-school-university.jsonl | head -1)
out=$("$RALPHSUP" replay "$t" --config "$CA" --school "Wrong School University" 2>&1)
assert_contains "$out" "marker-ignored" "replay with --school ignores the other school's marker"
# Without --config the transcript's directory is the root.
t=$(ls "$A"/logs/*-permanent-university.jsonl | head -1)
out=$("$RALPHSUP" replay "$t" 2>&1)
assert_contains "$out" "verdict: item (permanent) — agent reported failure (not retryable)" "replay without --config"
# Without --config a completed run is found complete: the config whose log_dir holds the
# transcript is found above it (here config/batch.toml), so the CSV is checked in output/.
t=$(ls "$A"/logs/*-done-university.jsonl | head -1)
out=$("$RALPHSUP" replay "$t" 2>&1)
assert_contains "$out" "verdict: completed — completed" "replay of a completed run without --config: completed (not \"missing\")"
assert_contains "$out" "no --config; using $CA" "replay without --config says which config it found"
assert_not_contains "$out" "does not exist" "replay without --config does not call the CSV missing"
# A transcript away from any batch: the CSV cannot be checked, and it says so.
X=$(new_tmp)
cp "$t" "$X/run.jsonl"
out=$("$RALPHSUP" replay "$X/run.jsonl" 2>&1)
assert_contains "$out" "verdict: unverified — RALPH_DONE seen, but no --config: cannot verify the CSV (pass --config CONFIG" \
    "replay of a lone transcript without --config: unverified, with the way on"
assert_not_contains "$out" "does not exist" "a lone transcript's CSV is not called missing"
out=$("$RALPHSUP" replay "$X/run.jsonl" --config "$CA" --school "Done University" 2>&1)
assert_contains "$out" "verdict: completed" "the same lone transcript with --config: completed"
no_batch_survivors "$A" "no agent process of the recorded run survives"
rs replay "$A/logs/no-such.jsonl"
assert_eq "$RS_RC" 66 "replay of a missing transcript: 66"
out=$(printf '' | "$RALPHSUP" replay - 2>&1)
assert_contains "$out" "the CLI was interrupted (exit 0 without a result line)" "replay of an empty stream from stdin: interrupted"

finish
