#!/bin/bash
# Integration test of `ralphsup doctor`: a temp batch (minimal config, a
# two-school list, the repo's prompt template, git init) and a fake agent
# that prints "2.1.197 (Claude Code)". Checks: a ready batch passes (exit
# 0) without printing the key; a missing agent is a ✗ (exit 1); missing
# credentials are a ✗; a held lock and a stale cache are warnings (exit 0);
# a broken config and a broken school list are ✗; usage errors exit 64.
# Pattern arguments of expect() starting with NOT: must be absent.
# Env: RALPHSUP (the binary), RALPHSUP_SOURCE_ROOT (the repo).
set -u

: "${RALPHSUP:?set RALPHSUP to the ralphsup binary}"
SRC=${RALPHSUP_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
unset ANTHROPIC_API_KEY CLAUDE_CODE_OAUTH_TOKEN ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL CLAUDE_CONFIG_DIR

tmp=$(mktemp -d /tmp/rs-doctor-it-XXXXXX)
holder=
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home
mkdir -p "$HOME" "$tmp/batch/prompts" "$tmp/bin"
root=$tmp/batch
cp "$SRC/prompts/batch_loop.md" "$root/prompts/batch_loop.md"
cat > "$root/schools.json" <<'EOF'
{
  "batch_name": "doctor-test",
  "schools": [
    {"name": "Northfield State University", "conference": "Demo Athletic Conference", "state": "MN", "priority": 1},
    {"name": "Lakeshore College", "conference": "Demo Athletic Conference", "state": "MI", "priority": 2}
  ]
}
EOF
cat > "$tmp/bin/fake-claude" <<'EOF'
#!/bin/sh
[ "$1" = "--version" ] && echo "2.1.197 (Claude Code)" && exit 0
exit 1
EOF
chmod +x "$tmp/bin/fake-claude"
write_config() { # agent-command
    cat > "$root/ralphsup.toml" <<EOF
[batch]
name = "doctor-test"
root = "."
schools = "schools.json"
cache_dir = "cache"

[agent]
command = "$1"

[doctor]
min_free_mb = 1
cache_max_age_days = 30
EOF
}
write_config "$tmp/bin/fake-claude"
git init -q "$root"
cfg=$root/ralphsup.toml
key=sk-ant-doctor-test-0123456789abcdef

fails=0
out=
rc=0
run() { out=$("$RALPHSUP" doctor "$@" 2>&1); rc=$?; }
expect() { # name want-rc pattern...
    local name=$1 want=$2
    shift 2
    local bad=
    [ "$rc" -eq "$want" ] || bad="exit $rc, expected $want"
    for p in "$@"; do
        if [[ $p == 'NOT:'* ]]; then
            [[ $out == *"${p#NOT:}"* ]] && bad="$bad; unexpected \"${p#NOT:}\""
        else
            [[ $out == *"$p"* ]] || bad="$bad; missing \"$p\""
        fi
    done
    if [ -n "$bad" ]; then
        echo "FAIL $name: $bad"
        printf '%s\n' "$out" | sed 's/^/    | /'
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}

# A ready batch.
ANTHROPIC_API_KEY=$key run "$cfg"
expect ready 0 "✓ config" "✓ schools      2 schools" "✓ prompt" "renders for Northfield State University" \
    "✓ agent" "version 2.1.197 (Claude Code)" "✓ credentials  ANTHROPIC_API_KEY is set (in the environment)" \
    "- api" "✓ git" "✓ identity" "✓ disk" "✓ lock         free" "ready" "NOT:$key" "NOT:✗"

# The fence: the ABI, the rules an iteration gets, the live check (a fenced child's write to the
# progress file is EACCES); the progress file is neither created nor changed by the check.
abi=$(python3 -c 'import ctypes; print(max(0, ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1)))' 2>/dev/null || echo 0)
if [ "$abi" -ge 1 ]; then
    expect fence-ready 0 "✓ landlock     ABI $abi" "writable: .ralphsup/work/0001-northfield-state-university/ (its CSV, tmp/ = TMPDIR, claude/ = CLAUDE_CONFIG_DIR)" \
        "writable: cache (does not exist yet)" "devices: /dev/null" \
        "✓ fence-check  a fenced child cannot write batch_progress.json (EACCES)"
    [ ! -e "$root/batch_progress.json" ] || { echo "FAIL the live check left a progress file"; fails=$((fails + 1)); }
    echo '{"keep": "me"}' > "$root/batch_progress.json"
    cp "$root/batch_progress.json" "$tmp/progress.before"
    ANTHROPIC_API_KEY=$key run "$cfg"
    expect fence-check-existing 1 "✗ progress" "✓ fence-check  a fenced child cannot write batch_progress.json (EACCES)"
    cmp -s "$root/batch_progress.json" "$tmp/progress.before" || { echo "FAIL the live check changed the progress file"; fails=$((fails + 1)); }
    rm -f "$root/batch_progress.json"
    mkdir -p "$root/extra"
    sed -i 's/^\[agent\]$/[agent]\nwritable = ["extra"]/' "$cfg"
    ANTHROPIC_API_KEY=$key run "$cfg"
    expect fence-writable 0 "writable: extra" "✓ fence-check"
    write_config "$tmp/bin/fake-claude"
fi
RALPHSUP_LANDLOCK_ABI=0 ANTHROPIC_API_KEY=$key run "$cfg"
expect fence-none-auto 0 "! landlock     no Landlock in this kernel: the agent runs unfenced, with the guard alone" "NOT:fence-check"
sed -i 's/^\[agent\]$/[agent]\nsandbox = "landlock"/' "$cfg"
RALPHSUP_LANDLOCK_ABI=0 ANTHROPIC_API_KEY=$key run "$cfg"
expect fence-none-landlock 1 "✗ landlock     no Landlock in this kernel, and [agent] sandbox = \"landlock\": start refuses (exit 78)"
write_config "$tmp/bin/fake-claude"
sed -i 's/^\[agent\]$/[agent]\nsandbox = "off"/' "$cfg"
ANTHROPIC_API_KEY=$key run "$cfg"
expect fence-off 0 "! landlock     [agent] sandbox = \"off\": the agent runs unfenced" "NOT:fence-check"
write_config "$tmp/bin/fake-claude"

# The [notify] command: none is a "-"; one relative to the root is found there; a missing one is a
# warning (a notification never changes the batch), not a problem.
ANTHROPIC_API_KEY=$key run "$cfg"
expect notify-none 0 "- notify       no [notify] command"
mkdir -p "$root/hooks-bin"
printf '#!/bin/sh\ncat >/dev/null\n' > "$root/hooks-bin/tell"
chmod +x "$root/hooks-bin/tell"
printf '\n[notify]\ncommand = ["hooks-bin/tell", "--to", "ops"]\nevents = ["batch-finished", "school-failed"]\ntimeout = "5s"\n' >> "$cfg"
ANTHROPIC_API_KEY=$key run "$cfg"
expect notify-found 0 "✓ notify       $root/hooks-bin/tell, for 2 events (timeout 5 s)" "ready"
sed -i 's|"hooks-bin/tell"|"hooks-bin/missing"|' "$cfg"
ANTHROPIC_API_KEY=$key run "$cfg"
expect notify-missing 0 "! notify       command \"hooks-bin/missing\" not found: every notification would fail" \
    "fix: set [notify] command in $cfg" "ready, with" "NOT:✗"
chmod -x "$root/hooks-bin/tell"
sed -i 's|"hooks-bin/missing"|"hooks-bin/tell"|' "$cfg"
ANTHROPIC_API_KEY=$key run "$cfg"
expect notify-not-executable 0 "! notify       command \"hooks-bin/tell\" is not an executable file"
rm -rf "$root/hooks-bin"
write_config "$tmp/bin/fake-claude"

# The key may come from [agent.env] instead; still never printed.
printf '\n[agent.env]\nANTHROPIC_API_KEY = "%s"\n' "$key" >> "$cfg"
run "$cfg"
expect key-in-agent-env 0 "ANTHROPIC_API_KEY is set (in [agent] env)" "NOT:$key"
write_config "$tmp/bin/fake-claude"

# A logged-in claude instead of a key.
mkdir -p "$HOME/.claude" && echo '{}' > "$HOME/.claude/.credentials.json"
run "$cfg"
expect logged-in 0 "✓ credentials  logged-in Claude Code ($HOME/.claude/.credentials.json)"
rm -f "$HOME/.claude/.credentials.json"

# No credentials at all.
run "$cfg"
expect no-credentials 1 "✗ credentials" "fix: export ANTHROPIC_API_KEY"

# The agent command is missing.
write_config "$tmp/bin/no-such-claude"
ANTHROPIC_API_KEY=$key run "$cfg"
expect agent-missing 1 "✗ agent        command \"$tmp/bin/no-such-claude\" not found" "fix: install Claude Code"
write_config "no-such-claude-in-path"
ANTHROPIC_API_KEY=$key run "$cfg"
expect agent-missing-in-path 1 "✗ agent" "PATH="
write_config "$tmp/bin/fake-claude"

# The lock is held by a running supervisor: a warning with its PID, exit 0.
if command -v flock >/dev/null; then
    lock=$root/batch_progress.json.lock
    # A subshell that takes the lock, writes its PID like ralphsup does, and
    # becomes `sleep` with the lock still open (so killing $holder frees it).
    ( exec 9>>"$lock"; flock -x 9; echo "$BASHPID" > "$lock"; exec sleep 30 ) &
    holder=$!
    for _ in $(seq 50); do [ -s "$lock" ] && break; sleep 0.1; done
    ANTHROPIC_API_KEY=$key run "$cfg"
    expect lock-held 0 "! lock         held by a running supervisor (PID $holder)" "ralphsup stop" "ready, with"
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    holder=
fi

# Stale cache files: a warning with a count and a fix.
mkdir -p "$root/cache/pages"
echo old > "$root/cache/pages/old.html"
echo new > "$root/cache/pages/new.html"
touch -d '40 days ago' "$root/cache/pages/old.html"
ANTHROPIC_API_KEY=$key run "$cfg"
expect stale-cache 0 "! cache        1 of 2 files in cache is older than 30 days (1 KB)" "-mtime +30 -delete" "✓ lock"
[ -f "$root/cache/pages/old.html" ] || { echo "FAIL doctor deleted a cache file"; fails=$((fails + 1)); }

# A progress file is read: the prompt renders for the first pending school.
cat > "$root/batch_progress.json" <<'EOF'
{
  "schema_version": 1,
  "batch_name": "doctor-test",
  "started": "2026-11-24T20:00:00Z",
  "last_updated": "2026-11-24T20:00:00Z",
  "status": "initialized",
  "pending": ["Lakeshore College"],
  "completed": [],
  "failed": [],
  "iterations": 0,
  "cost_usd": 0
}
EOF
ANTHROPIC_API_KEY=$key run "$cfg"
if [[ $out == *"✓ progress"* ]]; then
    expect progress-pending 0 "1 pending" "renders for Lakeshore College"
else
    # The progress schema belongs to progress.c: only require a clear line.
    expect progress-line 1 "✗ progress"
fi
rm -f "$root/batch_progress.json"

# --online: an unreachable API is a ✗ (connection refused on a closed local port).
if command -v curl >/dev/null; then
    ANTHROPIC_API_KEY=$key ANTHROPIC_BASE_URL=http://127.0.0.1:1 run "$cfg" --online
    expect online-unreachable 1 "✗ api          http://127.0.0.1:1 is not reachable: could not connect"
fi

# A broken school list and a broken config.
echo '{"schools": [{"name": "X", "state": "ZZ"}' > "$root/schools.json"
ANTHROPIC_API_KEY=$key run "$cfg"
expect bad-schools 1 "✗ schools" "schools.json"
printf '[batch]\nschools = 42\n' > "$cfg"
run "$cfg"
expect bad-config 1 "✗ config" "schools"
run "$tmp/nope.toml"
expect missing-config 1 "✗ config       cannot read"

# Usage.
run
expect no-args 64
run "$cfg" --bogus
expect bad-option 64
run --help
expect help 0 "usage: ralphsup doctor CONFIG [--online]"

echo "doctor.sh: $fails failure(s)"
[ "$fails" -eq 0 ]
