#!/bin/bash
# Waiting is not stalling (issue 14, point 6), with the scripted agent:
# - a CLI that prints nothing at all is "agent did not start" after
#   first_output_timeout: transient (no attempt counted), then it runs again;
# - a CLI that announced an API retry and waits it out in silence is not
#   killed as stalled while the announced delay runs (stall_timeout 1 s,
#   silence 2.5 s after a 3 s retry announcement): it completes;
# - the same silence without an announcement is a stall (control);
# - an iteration that times out while the CLI is still retrying a 429 is
#   requeued without an attempt, and the next run completes.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
LIMITS='first_output_timeout = "2s"
stall_timeout = "1s"
iteration_timeout = "4s"
max_consecutive_transients = 5' \
    make_batch "$A" "Silent University" "Retry Wait University" "Hang Control College" "Retry Forever University"
plan "$A" '{"Silent University": {"run1": "silent", "default": "done"},
            "Retry Wait University": {"default": "retry_wait"},
            "Hang Control College": {"run1": "hang", "default": "done"},
            "Retry Forever University": {"run1": "retry_forever", "default": "done"}}'
C="$A/config/batch.toml"
P="$A/batch_progress.json"
EV="$A/logs/events.jsonl"

rs start "$C"
assert_eq "$RS_RC" 0 "the batch finishes (exit 0)"
assert_file_json "$P" 'all(W(n) == "completed" for n in ["Silent University", "Retry Wait University", "Hang Control College", "Retry Forever University"])' \
    "every school is completed"

assert_file_json "$P" '[(a["outcome"], a["class"], a["attempt"]) for a in S("Silent University")["attempts"]] == [("transient", "transient", 1), ("completed", "completed", 1)]' \
    "silent CLI: a transient attempt (no attempt counted), then completed as attempt 1"
assert_file_json "$P" '"agent did not start: no output within 2s (first_output_timeout)" in S("Silent University")["attempts"][0]["reason"]' \
    "silent CLI: the reason says the agent did not start"

assert_file_json "$P" '[a["outcome"] for a in S("Retry Wait University")["attempts"]] == ["completed"]' \
    "a CLI waiting out an announced 3 s retry in 2.5 s of silence is not stalled (stall_timeout 1 s)"

assert_file_json "$P" '[(a["outcome"], a["class"]) for a in S("Hang Control College")["attempts"]] == [("failed", "item"), ("completed", "completed")]' \
    "control: the same silence without an announcement is a stall (an attempt counted)"
assert_file_json "$P" 'S("Hang Control College")["attempts"][0]["reason"].startswith("stalled: no output for 1s")' \
    "control: the reason says stalled"

assert_file_json "$P" '[(a["outcome"], a["class"], a["attempt"]) for a in S("Retry Forever University")["attempts"]] == [("transient", "transient", 1), ("completed", "completed", 1)]' \
    "timed out while the CLI retried a 429: requeued without an attempt, then completed as attempt 1"
assert_file_json "$P" '"iteration_timeout reached (4s) while the CLI was waiting out an API retry" in S("Retry Forever University")["attempts"][0]["reason"] and "(rate_limit 429)" in S("Retry Forever University")["attempts"][0]["reason"]' \
    "its reason names the timeout and the API retry it was waiting out"

# A reload of first_output_timeout is a limit like the others (rs_limits_diff): config check only.
sed -i 's/^first_output_timeout = .*/first_output_timeout = "-1s"/' "$C"
rs init --resume "$C"
assert_eq "$RS_RC" 78 "a bad first_output_timeout is a config error (exit 78)"
assert_contains "$RS_OUT" "first_output_timeout" "the error names the key"
finish
