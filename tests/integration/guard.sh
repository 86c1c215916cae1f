#!/bin/bash
# Integration test of `ralphsup hook guard`: the built binary, a real batch
# in a temp dir (git init, progress file, symlinks), the PreToolUse JSON on
# stdin exactly as Claude Code sends it. Every case checks the exit status
# (always 0), and that stdout is the deny JSON or empty.
# Env: RALPHSUP (the binary), RALPHSUP_SOURCE_ROOT (the repo).
set -u

: "${RALPHSUP:?set RALPHSUP to the ralphsup binary}"
SRC=${RALPHSUP_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
unset RALPHSUP_CONFIG RALPHSUP_ROOT RALPHSUP_PROGRESS RALPHSUP_SCHOOL RALPHSUP_ITERATION

tmp=$(mktemp -d /tmp/rs-guard-it-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/batch
mkdir -p "$root/output" "$tmp/outside"
cat > "$root/ralphsup.toml" <<'EOF'
[batch]
root = "."
schools = "schools.json"
log_dir = "logs"
EOF
git init -q "$root"
echo '{}' > "$root/batch_progress.json"
: > "$root/batch_progress.json.lock"
ln -s ../outside "$root/escape"
ln -s batch_progress.json "$root/plink"
cfg=$root/ralphsup.toml

fails=0
n=0
out=

# hook JSON -> sets $out, returns the exit status
hook() {
    out=$(printf '%s' "$1" | "$RALPHSUP" hook guard --config "$cfg" 2>/dev/null)
}

json_call() { # tool key value
    printf '{"session_id":"s1","transcript_path":"/t","cwd":"%s","permission_mode":"acceptEdits",' "$root"
    printf '"hook_event_name":"PreToolUse","tool_name":"%s","tool_input":{"%s":%s},"tool_use_id":"toolu_%d"}' \
        "$1" "$2" "$(printf '%s' "$3" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')" "$n"
}

check() { # expect(deny|allow) name json [reason-substring]
    local expect=$1 name=$2 json=$3 want=${4:-}
    n=$((n + 1))
    hook "$json"
    local rc=$?
    local got=allow
    if [ -n "$out" ]; then
        got=other
        case $out in
        '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"ralphsup guard: '*)
            got=deny ;;
        esac
    fi
    if [ "$rc" -ne 0 ] || [ "$got" != "$expect" ]; then
        echo "FAIL $name: expected $expect, got $got (rc $rc): $out"
        fails=$((fails + 1))
    elif [ -n "$want" ] && [[ $out != *"$want"* ]]; then
        echo "FAIL $name: reason lacks \"$want\": $out"
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}

# File tools.
check deny  write-progress-rel   "$(json_call Write file_path batch_progress.json)" "batch_progress.json is owned by the supervisor"
check deny  write-progress-abs   "$(json_call Write file_path "$root/batch_progress.json")"
check deny  write-progress-dots  "$(json_call Write file_path output/../batch_progress.json)"
check deny  write-progress-link  "$(json_call Write file_path plink)"
check deny  edit-progress        "$(json_call Edit file_path batch_progress.json)"
check deny  multiedit-progress   "$(json_call MultiEdit file_path batch_progress.json)"
check deny  notebook-progress    "$(json_call NotebookEdit notebook_path batch_progress.json)"
check deny  write-lock           "$(json_call Write file_path batch_progress.json.lock)" "lock file"
check deny  read-progress        "$(json_call Read file_path batch_progress.json)" "do not read or write it"
check deny  read-lock            "$(json_call Read file_path "$root/batch_progress.json.lock")"
check allow read-other           "$(json_call Read file_path ralphsup.toml)"
check allow read-git             "$(json_call Read file_path .git/HEAD)"
check allow read-outside         "$(json_call Read file_path /etc/hostname)"
check allow write-output         "$(json_call Write file_path output/school.csv)"
check allow write-output-abs     "$(json_call Write file_path "$root/output/school.csv")"
check deny  write-git            "$(json_call Write file_path .git/config)" "inside a .git directory"
check deny  edit-nested-git      "$(json_call Edit file_path vendor/x/.git/HEAD)"
check deny  write-outside        "$(json_call Write file_path /tmp/rs-guard-it-outside.txt)" "outside the batch root"
check deny  write-parent         "$(json_call Write file_path ../outside/x)"
check deny  write-symlink-escape "$(json_call Write file_path escape/x.csv)" "resolves to"

# Bash.
check deny  bash-echo-progress   "$(json_call Bash command "echo '{}' > batch_progress.json")" "names batch_progress.json"
check deny  bash-env-progress    "$(json_call Bash command 'cat "$RALPHSUP_PROGRESS"')"
check deny  bash-git-commit      "$(json_call Bash command 'git commit -am "x"')" '`git commit`'
check deny  bash-git-reset       "$(json_call Bash command 'cd output && git -C .. reset --hard')"
check deny  bash-dot-git         "$(json_call Bash command 'echo x >> .git/config')" ".git directory"
check deny  bash-rm-star         "$(json_call Bash command 'rm -rf *')" "matches batch_progress.json"
check deny  bash-rm-root         "$(json_call Bash command 'cd output; rm -rf ..')"
check allow bash-git-status      "$(json_call Bash command 'git status --short && git log -3')"
check allow bash-curl            "$(json_call Bash command 'curl -s https://example.org -o output/page.html')"
check allow bash-rm-output       "$(json_call Bash command 'rm -f output/*.tmp')"

# Other tools pass untouched.
check allow glob                 "$(json_call Glob pattern '*.json')"

# Input the guard cannot read: writes fail closed, reads fail open.
check deny  garbage-stdin        'this is not json' "could not check this call"
out=$(printf '%s' "$(json_call Write file_path output/a.csv)" | "$RALPHSUP" hook guard --config /nonexistent.toml 2>/dev/null)
if [[ $out == *'"deny"'*'could not check this call'* ]]; then echo "ok   no-config-write-fails-closed"
else echo "FAIL no-config-write-fails-closed: $out"; fails=$((fails + 1)); fi
out=$(printf '%s' "$(json_call Read file_path ralphsup.toml)" | "$RALPHSUP" hook guard --config /nonexistent.toml 2>/dev/null)
if [ -z "$out" ]; then echo "ok   no-config-read-fails-open"
else echo "FAIL no-config-read-fails-open: $out"; fails=$((fails + 1)); fi

# Without --config: the supervisor's environment.
out=$(printf '%s' "$(json_call Write file_path batch_progress.json)" |
      RALPHSUP_ROOT=$root RALPHSUP_PROGRESS=$root/batch_progress.json "$RALPHSUP" hook guard 2>/dev/null)
if [[ $out == *'owned by the supervisor'* ]]; then echo "ok   env-fallback"
else echo "FAIL env-fallback: $out"; fails=$((fails + 1)); fi
out=$(printf '%s' "$(json_call Write file_path batch_progress.json)" | RALPHSUP_CONFIG=$cfg "$RALPHSUP" hook guard 2>/dev/null)
if [[ $out == *'owned by the supervisor'* ]]; then echo "ok   env-config"
else echo "FAIL env-config: $out"; fails=$((fails + 1)); fi

# Denials are logged, one JSON line each.
if [ -s "$root/logs/guard.jsonl" ] && grep -q '"tool_use_id":"toolu_1"' "$root/logs/guard.jsonl"; then
    echo "ok   guard.jsonl ($(wc -l < "$root/logs/guard.jsonl") lines)"
else
    echo "FAIL guard.jsonl missing or incomplete"; fails=$((fails + 1))
fi

# The deny output and the settings fragment are valid JSON (when python3 is there).
if command -v python3 >/dev/null; then
    hook "$(json_call Write file_path batch_progress.json)"
    if printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin)["hookSpecificOutput"]; assert d["permissionDecision"]=="deny"'; then
        echo "ok   deny-json-parses"
    else echo "FAIL deny-json-parses: $out"; fails=$((fails + 1)); fi
    if python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["hooks"]["PreToolUse"][0]; assert "Write" in h["matcher"] and "Read" in h["matcher"]' \
        "$SRC/hooks/guard.settings.json"; then
        echo "ok   guard.settings.json"
    else echo "FAIL guard.settings.json"; fails=$((fails + 1)); fi
fi

# Usage.
"$RALPHSUP" hook >/dev/null 2>&1; rc=$?
if [ "$rc" -eq 64 ]; then echo "ok   usage"; else echo "FAIL usage: rc $rc"; fails=$((fails + 1)); fi

echo "guard.sh: $fails failure(s)"
[ "$fails" -eq 0 ]
