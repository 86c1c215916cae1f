#!/bin/bash
# The cost estimate the caps act on (docs/progress.md, "Cost estimate"):
# replayed recordings of the real CLI without their result line come within
# 10 % of the CLI's own total_cost_usd; ralphsup passes
# --include-partial-messages unless [agent] partial_messages = false; a model
# without a price is said (once on the terminal, once per iteration in
# logs/events.jsonl, and by doctor); result lines calibrate the estimate
# (cost-calibrated events).
source "$(dirname "$0")/lib.sh"

STREAMS="$RALPHSUP_SOURCE_ROOT/tests/fixtures/streams"
W=$(new_tmp)

# ---- recordings: estimate without the result line vs the CLI's total ----------
for f in cost_2-1-197_partial cost_2-1-332_partial cost_2-1-197_plain cost_2-1-332_plain; do
    grep -v '"type":"result"' "$STREAMS/$f.jsonl" >"$W/$f.nores.jsonl"
    rs replay --quiet "$STREAMS/$f.jsonl"
    total=$(printf '%s\n' "$RS_OUT" | sed -n 's/^cost \$\([0-9.]*\)$/\1/p')
    rs replay --quiet "$W/$f.nores.jsonl"
    est=$(printf '%s\n' "$RS_OUT" | sed -n 's/^cost \$\([0-9.]*\) (estimated.*/\1/p')
    if [ -z "$total" ] || [ -z "$est" ]; then
        not_ok "$f: replay printed a total ('$total') and an estimate ('$est')"
        diag "$RS_OUT"
        continue
    fi
    pct=$(awk -v e="$est" -v t="$total" 'BEGIN { printf "%.1f", 100 * e / t }')
    case $f in
    *_partial) check "$f: estimate \$$est is within 10 % of the CLI's \$$total ($pct %)" \
        awk -v p="$pct" 'BEGIN { exit !(p >= 90 && p <= 110) }' ;;
    *) check "$f: without partial messages \$$est is $pct % of \$$total (output from content size only)" \
        awk -v p="$pct" 'BEGIN { exit !(p >= 75 && p <= 100) }' ;;
    esac
done

# ---- a run: arguments, unknown model, calibration ------------------------------
A=$(new_tmp)
AGENT_ENV='FAKE_MODEL = "claude-fable-5"' make_batch "$A" "Alpha University" "Beta University"
CA="$A/config/batch.toml"
cat >"$A/.bin/claude-logged" <<EOF2
#!/bin/bash
printf '%s\n' "\$@" >>"$A/.fake/argv.txt"
echo --- >>"$A/.fake/argv.txt"
exec "$A/.bin/claude" "\$@"
EOF2
chmod +x "$A/.bin/claude-logged"
sed -i "s|^command = .*|command = \"$A/.bin/claude-logged\"|" "$CA"
rs start "$CA"
assert_eq "$RS_RC" 0 "the batch with an unpriced model finished"
assert_eq "$(grep -c -x -- '--include-partial-messages' "$A/.fake/argv.txt")" 2 \
    "--include-partial-messages passed to each of the 2 iterations by default"
assert_eq "$(printf '%s\n' "$RS_OUT" | grep -c "warning: no price for claude-fable-5; estimates use '\*'")" 1 \
    "the unpriced model is said once on the terminal"
EV="$A/logs/events.jsonl"
assert_eq "$(events "$EV" 'e["event"] == "price-unknown" and e["model"] == "claude-fable-5" and e["message"] == "no price for claude-fable-5; estimates use '"'*'"'"' | wc -l)" 2 \
    "price-unknown is logged once per iteration with the model"
cal=$(events "$EV" 'e["event"] == "cost-calibrated"')
assert_eq "$(printf '%s\n' "$cal" | grep -c .)" 2 "a cost-calibrated event per iteration with a result line"
check "cost-calibrated: model, estimate, actual, and the clamped running ratio" "$PY" -c '
import json, sys
L = [json.loads(x) for x in sys.argv[1].splitlines()]
lo, hi = 0.5, 4.0
sa = se = 0.0
for i, e in enumerate(L):
    assert e["model"] == "claude-fable-5" and e["school"] and e["estimate_usd"] > 0 and e["actual_usd"] > 0, e
    sa += e["actual_usd"]; se += e["estimate_usd"]
    want = min(hi, max(lo, sa / se))
    assert abs(e["ratio"] - want) < 1e-9, (e, want)
    assert e["clamped"] == (sa / se < lo or sa / se > hi), e
    assert abs(e["ratio_before"] - (1.0 if i == 0 else L[i - 1]["ratio"])) < 1e-9, e
' "$cal"

# [agent] model without a price: said at start (once, with the fix), and doctor says it.
B=$(new_tmp)
AGENT_ENV='FAKE_MODEL = "claude-fable-5"' make_batch "$B" "Gamma University"
CB="$B/config/batch.toml"
sed -i 's|^\[agent\]$|[agent]\nmodel = "claude-fable-5"\npartial_messages = false|' "$CB"
cat >"$B/.bin/claude-logged" <<EOF2
#!/bin/bash
printf '%s\n' "\$@" >>"$B/.fake/argv.txt"
exec "$B/.bin/claude" "\$@"
EOF2
chmod +x "$B/.bin/claude-logged"
sed -i "s|^command = .*|command = \"$B/.bin/claude-logged\"|" "$CB"
rs doctor "$CB"
assert_contains "$RS_OUT" "! prices       no price for claude-fable-5; estimates use '*'" "doctor warns about the configured model"
assert_contains "$RS_OUT" "fix: add [prices.\"claude-fable-5\"]" "doctor names the fix"
rs start "$CB"
assert_eq "$RS_RC" 0 "the batch with [agent] model unpriced finished"
assert_eq "$(printf '%s\n' "$RS_OUT" | grep -c "no price for claude-fable-5")" 1 "said once per run (at start, not again at init)"
assert_contains "$RS_OUT" "warning: no price for claude-fable-5; estimates use '*' (add [prices.\"claude-fable-5\"] to $CB)" \
    "said at start with the fix"
assert_eq "$(grep -c -x -- '--include-partial-messages' "$B/.fake/argv.txt")" 0 "partial_messages = false: not passed"
assert_contains "$(cat "$B/.fake/argv.txt")" "claude-fable-5" "--model passed"
printf '[prices."claude-fable-5"]\ninput = 3\noutput = 15\n' >>"$CB"
rs doctor "$CB"
assert_contains "$RS_OUT" "✓ prices       claude-fable-5 priced as \"claude-fable-5\"" "doctor: priced once [prices] has it"

finish
