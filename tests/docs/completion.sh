#!/bin/bash
# The bash completion (issue 14, point 4): contrib/completion/ralphsup.bash,
# sourced after bash-completion's own bash_completion, its function called
# as bash calls it (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT), COMPREPLY
# checked: every command of the command table, each command's options (the
# ones its usage names, --max-schools, --watch, --failed, --reason among them),
# `.toml` files and directories for CONFIG and not other files, `guard` after
# `hook`, commands after `help`. zsh's is not exercised (no zsh in Debian's
# base); `zsh -n` checks its syntax when zsh is there.
source "$(dirname "$0")/../integration/lib.sh"
BC=/usr/share/bash-completion/bash_completion
[ -r "$BC" ] || { not_ok "bash-completion is installed ($BC; contrib/setup.sh installs it)"; finish; }
D=$(new_tmp)
mkdir -p "$D/bin" "$D/work/config" "$D/work/logs"
ln -s "$RALPHSUP" "$D/bin/ralphsup"
touch "$D/work/config/west.toml" "$D/work/config/notes.txt" "$D/work/logs/7-utah.jsonl" "$D/work/batch.toml"

# complete LINE: COMPREPLY for LINE (the cursor at its end), one per line, sorted.
complete_line() {
    (
        cd "$D/work" || exit 1
        PATH="$D/bin:$PATH"
        # shellcheck disable=SC1090
        source "$BC"
        source "$RALPHSUP_SOURCE_ROOT/contrib/completion/ralphsup.bash"
        COMP_LINE=$1
        COMP_POINT=${#1}
        read -ra COMP_WORDS <<<"$1"
        [[ $1 == *' ' ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _ralphsup ralphsup "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf '%s\n' "${COMPREPLY[@]}" | sort
    )
}

assert_eq "$(bash -c "source '$BC'; source '$RALPHSUP_SOURCE_ROOT/contrib/completion/ralphsup.bash'; complete -p ralphsup")" \
    "complete -F _ralphsup ralphsup" "the script registers _ralphsup for ralphsup"
all=$(complete_line "ralphsup ")
for c in $("$RALPHSUP" __list commands) help; do
    assert_contains "$all" "$c" "command $c is completed"
done
assert_eq "$(complete_line "ralphsup st" | tr '\n' ' ')" "start status stop " "ralphsup st<TAB>: start status stop"
assert_eq "$(complete_line "ralphsup re" | tr '\n' ' ')" "recover reload replay report resume retry " "ralphsup re<TAB>"
for c in $("$RALPHSUP" __list commands); do
    got=$(complete_line "ralphsup $c --")
    for o in $("$RALPHSUP" "$c" --help | sed '/^$/q' | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u); do
        assert_contains "$got" "$o" "ralphsup $c --<TAB> offers $o"
    done
done
assert_eq "$(complete_line "ralphsup start config/west.toml --max-s")" "--max-schools" "start --max-s<TAB>: --max-schools"
assert_eq "$(complete_line "ralphsup status --w")" "--watch" "status --w<TAB>: --watch"
assert_eq "$(complete_line "ralphsup retry --f")" "--failed" "retry --f<TAB>: --failed"
assert_eq "$(complete_line "ralphsup skip config/west.toml Utah --r")" "--reason" "skip --r<TAB>: --reason"
assert_not_contains "$(complete_line "ralphsup hook --")" "--settings" "options only from the usage, not the prose"
assert_eq "$(complete_line "ralphsup start config/")" "config/west.toml" "CONFIG: .toml files only"
assert_eq "$(complete_line "ralphsup status " | tr '\n' ' ')" "batch.toml config logs " "CONFIG: .toml files and directories"
assert_eq "$(complete_line "ralphsup replay logs/")" "logs/7-utah.jsonl" "replay: .jsonl transcripts"
assert_eq "$(complete_line "ralphsup hook ")" "guard" "hook <TAB>: guard"
assert_eq "$(complete_line "ralphsup help sk")" "skip" "help sk<TAB>: skip"
assert_eq "$(complete_line "ralphsup start --max-schools ")" "" "no completion for a value"
if command -v zsh >/dev/null; then
    zsh -n "$RALPHSUP_SOURCE_ROOT/contrib/completion/_ralphsup"
    assert_eq "$?" 0 "the zsh completion parses"
fi
finish
