#!/bin/bash
# A verified RALPH_DONE is never thrown away by a stop of ralphsup's own: when
# the result line of a finished school crosses the batch's max_cost_usd (the
# agent still alive, so the supervisor kills it), the school is recorded as
# completed once, and only then does the batch stop with exit 3 naming the
# limit. Before, the limit outranked the marker: the school went back to
# pending and was paid for again on the next start.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
LIMITS='max_cost_usd = 2
max_cost_per_school_usd = 10' \
    make_batch "$A" "Alpha University" "Beta College"
plan "$A" '{"Alpha University": {"default": "done_costly"}, "Beta College": {"default": "done"}}'
C="$A/config/batch.toml"
P="$A/batch_progress.json"

rs start "$C"
assert_eq "$RS_RC" 3 "the batch cap crossed by a finished school: exit 3"
assert_file_json "$P" 'W("Alpha University") == "completed" and [o for o, r in R("Alpha University")] == ["completed"]' \
    "the school whose RALPH_DONE was verified is completed, with one attempt"
assert_file_json "$P" 'S("Alpha University")["coaches"] == 4 and S("Alpha University")["overlaps"] == 1 and S("Alpha University")["cost_usd"] >= 5' \
    "its counts and its cost are kept"
assert_file_json "$P" 'd["pending"] == ["Beta College"] and d["stopped"]["limit"] == "max_cost_usd"' \
    "the next school is still pending; the stop names max_cost_usd"
assert_contains "$RS_OUT" "Alpha University completed first" "the stop says the school was completed first"
assert_contains "$(subjects "$A")" "ralphsup: completed Alpha University" "the completion is committed"
assert_eq "$(grep -c '^Alpha University|' "$A/.fake/log")" 1 "Alpha University ran once"
no_batch_survivors "$A" "no process of the killed iteration is left"

# The next start with a raised cap runs only the pending school.
rs start "$C" --max-cost-usd 0
assert_eq "$RS_RC" 0 "with the cap lifted the batch finishes"
assert_eq "$(grep -c '^Alpha University|' "$A/.fake/log")" 1 "Alpha University was not run again"
assert_file_json "$P" 'W("Beta College") == "completed" and len(d["completed"]) == 2' "both schools completed, once each"

finish
