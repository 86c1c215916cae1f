#!/bin/bash
# The man pages (issue 14, point 4): ralphsup(1) and ralphsup.toml(5), built
# from docs/man/*.scd by scdoc, render with `man -l` without a warning; every
# command of the command table (`ralphsup __list commands`) has its section in
# ralphsup(1) naming every option its --help names; every key of the config
# schema (`ralphsup __list keys`) is described under its [section] in
# ralphsup.toml(5). So a new command, option or key without its man page
# fails here. MAN_DIR: build/docs/man.
source "$(dirname "$0")/../integration/lib.sh"
: "${MAN_DIR:=$RALPHSUP_BUILD_ROOT/docs/man}"
D=$(new_tmp)
export LC_ALL=C.UTF-8 MANWIDTH=200

for page in ralphsup.1 ralphsup.toml.5; do
    man -l --warnings=all "$MAN_DIR/$page" >"$D/$page.raw" 2>"$D/$page.err"
    assert_eq "$?" 0 "man -l $page renders"
    assert_eq "$(cat "$D/$page.err")" "" "man -l $page: no warning"
    # Plain text: no overstrike, the typographic hyphens and minus back to ASCII.
    col -bx <"$D/$page.raw" | sed 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g' >"$D/$page.txt"
done
assert_contains "$(head -1 "$D/ralphsup.1.txt")" "ralphsup(1)" "ralphsup(1)'s header"
assert_contains "$(head -1 "$D/ralphsup.toml.5.txt")" "ralphsup.toml(5)" "ralphsup.toml(5)'s header"

"$RALPHSUP" __list commands >"$D/commands"
"$RALPHSUP" __list keys >"$D/keys"
assert_le 14 "$(wc -l <"$D/commands")" "the command table is listed"
assert_le 50 "$(wc -l <"$D/keys")" "the config schema is listed"
for c in $(cat "$D/commands"); do "$RALPHSUP" "$c" --help >"$D/help.$c" 2>&1; done

out=$("$PY" "$RALPHSUP_SOURCE_ROOT/tests/docs/check_man.py" "$D")
assert_eq "$out" "" "every command, option and config key is in the man pages"

# The check fails when a key is missing: [limits] jobs dropped from a copy of the source.
sed '/^\*jobs\* = /,/^$/d' "$RALPHSUP_SOURCE_ROOT/docs/man/ralphsup.toml.5.scd" | scdoc >"$D/cut.5"
man -l "$D/cut.5" 2>/dev/null | col -bx >"$D/cut.txt"
out=$("$PY" "$RALPHSUP_SOURCE_ROOT/tests/docs/check_man.py" "$D" "$D/cut.txt")
assert_eq "$out" "ralphsup.toml(5): [limits] does not describe jobs" "a key missing from the page fails the check, named"
finish
