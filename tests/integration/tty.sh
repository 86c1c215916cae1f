#!/bin/bash
# What the user sees: on a terminal one live line redrawn in place
# ("[k/N] School · attempt a/m · elapsed · $cost · last tool · ETA · $spent"),
# transitions printed above it; without a terminal, plain timestamped lines
# and no escape sequences at all.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
make_batch "$A" "Tty University" "Second Tty College"
CA="$A/config/batch.toml"
# script(1) gives ralphsup a pseudo-terminal; stty makes it wide enough for the whole line.
script -qec "stty cols 200; '$RALPHSUP' start '$CA'" "$A/typescript" </dev/null >/dev/null 2>&1
rc=$?
assert_eq "$rc" 0 "start under a terminal finishes"
live=$(grep -a -o $'\r\033\\[K\\[[0-9]/2\\][^\r]*' "$A/typescript" | head -1 | tr -d '\r' | sed 's/\x1b\[K//')
diag "first live line: $live"
if printf '%s' "$live" | grep -Eq '^\[1/2\] Tty University · attempt 1/3 · [0-9.]+s · \$[0-9]+\.[0-9]{2} · .+ · ETA .+ · \$[0-9]+\.[0-9]{2} spent$'; then
    ok "the live line has the documented shape"
else
    not_ok "the live line has the documented shape"
fi
assert_contains "$(tr -d '\r' <"$A/typescript")" "completed Tty University" "transitions are printed on the terminal too"

B=$(new_tmp)
make_batch "$B" "Plain University"
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "start without a terminal finishes"
assert_not_contains "$RS_OUT" $'\033' "no escape sequences without a terminal"
bad=$(printf '%s\n' "$RS_OUT" | grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ralphsup: ' | grep -v '^ralphsup: ' || true)
assert_eq "$bad" "" "every line is timestamped (or a ralphsup: message)"
finish
