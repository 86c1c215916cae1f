#!/bin/bash
# Input files as users save them: a UTF-8 byte order mark in the school list,
# the alias table and the config (skipped; a second one is named, not shown
# as nothing); durations whose units are out of order (78 with file:line:col
# and the key); a directory given as CONFIG (66, "is a directory", for every
# command that takes CONFIG).
source "$(dirname "$0")/lib.sh"

W=$(new_tmp)
mkdir -p "$W/config" "$W/data" "$W/prompts"
cp "$RALPHSUP_SOURCE_ROOT/config/west.toml" "$W/config/"
cp "$RALPHSUP_SOURCE_ROOT/prompts/batch_loop.md" "$W/prompts/"
git -C "$W" init -q
CW="$W/config/west.toml"
bom=$'\xEF\xBB\xBF'
{ printf '%s' "$bom"; cat "$RALPHSUP_SOURCE_ROOT/data/target_schools_west.json"; } >"$W/data/target_schools_west.json"
{ printf '%s' "$bom"; cat "$RALPHSUP_SOURCE_ROOT/data/school_aliases.json"; } >"$W/data/school_aliases.json"
{ printf '%s' "$bom"; cat "$RALPHSUP_SOURCE_ROOT/config/west.toml"; } >"$CW"

rs init "$CW"
assert_eq "$RS_RC" 0 "init with a BOM in the config, the school list and the alias table"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
assert_contains "$RS_OUT" "24 pending" "all 24 schools read"
rs doctor "$CW"
assert_contains "$RS_OUT" "24 schools in data/target_schools_west.json, aliases from data/school_aliases.json" \
    "doctor reads both files with their BOM"

# Two marks (two files pasted together): a syntax error that names the mark.
{ printf '%s' "$bom"; cat "$W/data/target_schools_west.json"; } >"$W/data/t2.json"
mv "$W/data/t2.json" "$W/data/target_schools_west.json"
rs init --reset "$CW"
assert_eq "$RS_RC" 65 "a second BOM in the school list: exit 65"
assert_contains "$RS_OUT" "target_schools_west.json:1:1: JSON syntax error: '[' or '{' expected near '<U+FEFF (byte order mark)>'" \
    "the second mark is named"
assert_not_contains "$RS_OUT" "near '$bom'" "no invisible character in the message"
{ printf '%s' "$bom"; cat "$RALPHSUP_SOURCE_ROOT/data/target_schools_west.json"; } >"$W/data/target_schools_west.json"

# Durations: largest unit first, each once.
for v in 30m1h 1m1m; do
    sed "s/^stall_timeout = .*/stall_timeout = \"$v\"/" "$CW" >"$W/config/d.toml"
    l=$(grep -n "^stall_timeout" "$W/config/d.toml" | cut -d: -f1)
    # start validates the whole config (status and stop go on with [batch] only).
    rs start "$W/config/d.toml"
    assert_eq "$RS_RC" 78 "stall_timeout = \"$v\": exit 78"
    assert_contains "$RS_OUT" "d.toml:$l:17: [limits] stall_timeout: units of a duration go from largest to smallest" \
        "stall_timeout = \"$v\": file:line:col, key and the rule"
done
sed 's/^stall_timeout = .*/stall_timeout = "1h30m"/' "$CW" >"$W/config/d.toml"
rs status "$W/config/d.toml"
assert_eq "$RS_RC" 0 "stall_timeout = \"1h30m\" is accepted"

# A directory as CONFIG: 66 and "is a directory", for every command that takes CONFIG.
for cmd in init start status stop resume reload report; do
    rs "$cmd" "$W/config"
    assert_eq "$RS_RC" 66 "$cmd DIR: exit 66"
    assert_contains "$RS_OUT" "$W/config: is a directory, not a config file" "$cmd DIR: says it is a directory"
done

finish
