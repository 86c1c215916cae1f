#!/bin/bash
# e2e_userhook.sh: a user's hook fragment in <root>/hooks/ reaches the real CLI.
#
# hooks/record.settings.json adds a PostToolUse hook on Write that appends the
# hook's stdin (Claude Code's JSON) to hooks.log. The seed3 scenario's
# "Cached College" Writes its CSV, so after the run hooks.log must name that
# CSV. A broken fragment must stop `start` with exit 78 before anything is
# spawned.
. "$(dirname "$0")/lib.sh"
e2e_init userhook
e2e_batch '{"batch_name": "e2e-userhook", "schools": [
  {"name": "Cached College", "conference": "E2E Conference", "state": "CA", "priority": 1}
]}'
mkdir -p "$E2E_BATCH/cache" "$E2E_BATCH/hooks"
printf '# Cached College athletics staff (e2e cache)\nE2E-CACHE-MARKER-7f3a\n' > "$E2E_BATCH/cache/cached-college.md"
cat > "$E2E_BATCH/hooks/record.sh" <<'SH'
#!/bin/sh
cat >> "$RALPHSUP_ROOT/hooks.log"
echo >> "$RALPHSUP_ROOT/hooks.log"
SH
chmod +x "$E2E_BATCH/hooks/record.sh"
# A user's hook runs inside the agent's Landlock fence (docs/security.md): what it writes must be
# listed in [agent] writable (an entry must exist).
: > "$E2E_BATCH/hooks.log"
sed -i 's|^\[agent\]$|&\nwritable = ["hooks.log"]|' "$E2E_CONFIG"

# A broken fragment first: refused at startup, nothing spawned.
printf '{"hooks": {"PostToolUse": [}\n' > "$E2E_BATCH/hooks/broken.settings.json"
e2e_fakeapi e2e_seed3
e2e_start
check "a broken hook fragment stops start with exit 78" test "$E2E_RC" = 78
check "the error names the fragment with its position" grep -q "broken.settings.json:1:" "$T/ralphsup.out"
check "nothing was spawned (no transcript)" sh -c "! ls '$E2E_BATCH'/logs/0001-*.jsonl >/dev/null 2>&1"
rm "$E2E_BATCH/hooks/broken.settings.json"

printf '{"hooks": {"PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "%s/hooks/record.sh"}]}]}}\n' \
    "$E2E_BATCH" > "$E2E_BATCH/hooks/record.settings.json"
e2e_start
check "start exits 0" test "$E2E_RC" = 0
# The CSV is written in the iteration's work directory (.ralphsup/work/0001-cached-college/), then published.
check "the user's PostToolUse hook ran for the CSV Write" grep -q '/cached-college.csv' "$E2E_BATCH/hooks.log"
check "the hook saw the PostToolUse event" grep -q '"hook_event_name":"PostToolUse"' "$E2E_BATCH/hooks.log"
e2e_finish
