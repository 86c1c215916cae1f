#!/bin/bash
# Docs that work when followed (issue 14, point 9): every `ralphsup ...`
# command line in README.md, docs/, config/ and contrib/ names an existing
# command and only options its --help names (check_commands.py); and the
# checker itself catches the line the issue found (`ralphsup run CONFIG`).
source "$(dirname "$0")/../integration/lib.sh"
CHECK="$RALPHSUP_SOURCE_ROOT/tests/docs/check_commands.py"

out=$("$PY" "$CHECK" "$RALPHSUP" "$RALPHSUP_SOURCE_ROOT" 2>&1)
rc=$?
assert_eq "$rc" 0 "every ralphsup command line of the docs runs as written"
[ "$rc" = 0 ] || diag "$out"
n=$(sed -n 's/^# \([0-9]*\) ralphsup command lines checked.*/\1/p' <<<"$out")
assert_le 50 "${n:-0}" "the docs' command lines were found (${n:-0})"

D=$(new_tmp)
cat >"$D/bad.toml" <<'TOML'
# Run it with:   ralphsup run config/west.toml
# then `ralphsup start CONFIG --max-iteration 3` and `ralphsup hook gaurd --config C`
# ralphsup stores absolute paths (prose, not a command)
TOML
printf '# A batch\n\n```sh\nbuild/supervisor/ralphsup status config/west.toml --jsno\n```\n' >"$D/bad.md"
out=$("$PY" "$CHECK" "$RALPHSUP" "$RALPHSUP_SOURCE_ROOT" --files "$D/bad.toml" "$D/bad.md" 2>&1)
assert_eq "$?" 1 "the checker fails on bad command lines"
assert_contains "$out" 'bad.toml:1: Run it with:   ralphsup run config/west.toml: unknown command "run"' "an unknown command, with file and line"
assert_contains "$out" '`ralphsup start` has no option --max-iteration' "an unknown option"
assert_contains "$out" '`ralphsup hook` has no subcommand "gaurd"' "an unknown subcommand"
assert_contains "$out" 'bad.md:4:' "a fenced code block's line"
assert_contains "$out" '`ralphsup status` has no option --jsno' "... and its option"
assert_contains "$out" "# 4 ralphsup command lines checked, 4 problems" "prose is not taken for a command"

# The front door: --version, help, help COMMAND, NO_COLOR.
rs --version
assert_eq "$RS_OUT" "ralphsup $(sed -n "s/^  version: '\(.*\)',/\1/p" "$RALPHSUP_SOURCE_ROOT/meson.build")" "--version: the project's version"
rs help
assert_eq "$RS_RC" 0 "help: 0"
for c in $("$RALPHSUP" __list commands); do assert_contains "$RS_OUT" "  $c " "help lists $c"; done
assert_eq "$("$RALPHSUP" help retry)" "$("$RALPHSUP" retry --help)" "help retry is retry --help"
rs help nosuch
assert_eq "$RS_RC" 64 "help of an unknown command: 64"
rs run config/west.toml
assert_eq "$RS_RC" 64 "ralphsup run: 64"
assert_contains "$RS_OUT" 'unknown command "run"' "the issue's line is an unknown command"
for args in "help" "start --help" "status --help" "__list keys"; do
    # shellcheck disable=SC2086
    out=$(NO_COLOR=1 "$RALPHSUP" $args 2>&1)
    assert_not_contains "$out" $'\033' "NO_COLOR=1 ralphsup $args: no escape sequence"
done
finish
