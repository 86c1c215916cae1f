#!/bin/bash
# The realistic batch, config/west-full.toml over data/target_schools_west_full.json (every
# NCAA Division I school of the western states, docs/schools.md), through the built binary:
# the list in the file is the table in docs/schools.md (same schools, states, conferences and
# counts); `init` and `doctor` load it with the shipped alias table and no problem; every
# alias, used instead of the canonical name, finds its own school (no alias collides); and a
# whole run with the fake agent completes every school once, each under its own plain slug.
#
# Two keys are being added on other branches: `[limits] jobs` (feat/jobs) and the schools'
# `athletics_url` / `email_domains` (feat/verify). A build that refuses `jobs` gets a TAP SKIP
# for it and the rest runs on a copy without that line. The fields are ignored by a loader
# that does not know them and validated by one that does, so the same list serves both; only
# the fake agent's run drops `email_domains`, because its CSVs use example.edu addresses.
source "$(dirname "$0")/lib.sh"

SRC=$RALPHSUP_SOURCE_ROOT
W=$(new_tmp)
mkdir -p "$W/config" "$W/data" "$W/prompts"
cp "$SRC/config/west-full.toml" "$W/config/"
cp "$SRC/data/target_schools_west_full.json" "$SRC/data/school_aliases.json" "$W/data/"
cp "$SRC/prompts/batch_loop.md" "$W/prompts/"
git -C "$W" init -q
git -C "$W" commit -q --allow-empty -m "user: initial commit"
CF="$W/config/west-full.toml"
LIST="$W/data/target_schools_west_full.json"
PW="$W/batch_progress_west_full.json"

# ---- the list is the table of docs/schools.md ---------------------------------------
out=$("$PY" - "$SRC/docs/schools.md" "$LIST" <<'EOF'
import collections, json, re, sys
doc = open(sys.argv[1], encoding="utf-8").read()
schools = json.load(open(sys.argv[2], encoding="utf-8"))["schools"]
sec = doc.split("## The full western list", 1)[1].split("\n## ", 1)[0]
def table(after, first_col):
    """Rows of the first table whose header's first cell is first_col, after the text @after."""
    part = sec.split(after, 1)[1] if after else sec
    lines = part.splitlines()
    i = next(k for k, l in enumerate(lines) if re.match(r"\|\s*%s\s*\|" % re.escape(first_col), l))
    rows = []
    for l in lines[i + 2:]:
        if not l.startswith("|"):
            break
        rows.append([c.strip() for c in l.strip().strip("|").split("|")])
    return rows
probs = []
rows = table(None, "#")
if len(rows) != len(schools):
    probs.append("docs table has %d rows, the list %d schools" % (len(rows), len(schools)))
for i, (r, s) in enumerate(zip(rows, schools)):
    want = [str(i), s["name"], s["state"], s["conference"]]
    if r[:4] != want:
        probs.append("row %d: docs say %s, the list %s" % (i, r[:4], want))
    if not s["conference"].strip():
        probs.append("row %d: no conference" % i)
for col, key in (("state", "state"), ("conference", "conference")):
    got = {r[0]: r[1] for r in table("### Counts", col)}
    want = collections.Counter(s[key] for s in schools)
    want_t = {k: str(v) for k, v in want.items()}
    want_t["**total**"] = "**%d**" % len(schools)
    got = {k: v for k, v in got.items() if v != "0"}  # AK: 0 schools, listed for the record
    if got != want_t:
        probs.append("docs counts by %s %s != list %s" % (col, sorted(got.items()), sorted(want_t.items())))
print(len(rows))
for p in probs:
    print(p)
EOF
)
N=$(printf '%s\n' "$out" | head -n 1)
assert_eq "$(printf '%s\n' "$out" | tail -n +2)" "" "docs/schools.md's table and counts are the list's ($N schools)"
case "$N" in '' | *[!0-9]*) N=0 ;; esac
check "the table is not empty" [ "$N" -gt 0 ]

# ---- init and doctor load the real config -------------------------------------------
rs init "$CF"
if [ "$RS_RC" = 78 ] && [[ "$RS_OUT" == *"[limits] jobs: unknown key"* ]]; then
    T_N=$((T_N + 1))
    echo "ok $T_N - config/west-full.toml: [limits] jobs = 4 # SKIP this build has no [limits] jobs yet"
    sed '/^jobs = /d' "$SRC/config/west-full.toml" >"$CF"
    JOBS=0
    rs init "$CF"
else
    JOBS=1
fi
assert_eq "$RS_RC" 0 "init loads config/west-full.toml, its school list and the alias table"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
assert_contains "$RS_OUT" "$N pending, 0 completed, 0 failed ($N schools)" "init: every school of the table is pending"
same_names() { # PROGRESS LIST: the pending names are the list's canonical names, each once
    "$PY" -c '
import json, sys
p = json.load(open(sys.argv[1]))["pending"]
names = [s["name"] for s in json.load(open(sys.argv[2], encoding="utf-8"))["schools"]]
sys.exit(0 if sorted(p) == sorted(names) else 1)' "$1" "$2"
}
check "the progress file holds every canonical name once" same_names "$PW" "$LIST"

rs doctor "$CF"
assert_contains "$RS_OUT" "✓ schools      $N schools in data/target_schools_west_full.json, aliases from data/school_aliases.json" \
    "doctor: the list and the alias table load"
assert_contains "$RS_OUT" "✓ config " "doctor: the config is valid"

# ---- every alias finds its own school -----------------------------------------------
# List k names each school by its k-th alias (or its canonical name when it has fewer):
# one alias under two schools would make two entries the same school (a duplicate) or
# fail to resolve; init must accept every list with the canonical names unchanged.
K=$("$PY" - "$LIST" "$W/data/school_aliases.json" "$W/data" <<'EOF'
import json, sys
lst = json.load(open(sys.argv[1], encoding="utf-8"))
al = json.load(open(sys.argv[2], encoding="utf-8"))
k_max = max(len(al.get(s["name"], [])) for s in lst["schools"])
for k in range(k_max):
    out = dict(lst)
    out["schools"] = [dict(s, name=al.get(s["name"], [])[k] if k < len(al.get(s["name"], [])) else s["name"])
                      for s in lst["schools"]]
    json.dump(out, open("%s/alias%d.json" % (sys.argv[3], k), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
print(k_max)
EOF
)
check "the alias table has aliases for the list" [ "${K:-0}" -gt 0 ]
bad=
for ((k = 0; k < ${K:-0}; k++)); do
    sed "s|^schools = .*|schools = \"data/alias$k.json\"|" "$CF" >"$W/config/alias.toml"
    rs init --reset "$W/config/alias.toml"
    if [ "$RS_RC" != 0 ] || [[ "$RS_OUT" != *"$N pending"* ]]; then
        bad="$bad alias$k"
        diag "alias list $k: rc $RS_RC" "$RS_OUT"
        continue
    fi
    same_names "$PW" "$LIST" || bad="$bad alias$k(canonical)"
done
assert_eq "$bad" "" "each of the $K alias columns names every school once, under its canonical name"

# ---- a whole run with the fake agent ------------------------------------------------
R="$W/run"
mkdir -p "$R/config" "$R/data" "$R/prompts" "$R/.bin"
git -C "$R" init -q
git -C "$R" commit -q --allow-empty -m "user: initial commit"
cp "$SRC/prompts/batch_loop.md" "$R/prompts/"
cp "$W/data/school_aliases.json" "$R/data/"
install -m 0755 "$FAKE_CLAUDE" "$R/.bin/claude"
"$PY" - "$LIST" "$R/data/target_schools_west_full.json" <<'EOF'
import json, sys
l = json.load(open(sys.argv[1], encoding="utf-8"))
for s in l["schools"]:
    s.pop("email_domains", None)  # the fake agent's addresses are @example.edu
json.dump(l, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
EOF
sed -e "s|^command = .*|command = \"$R/.bin/claude\"|" \
    -e 's|^iteration_timeout = .*|iteration_timeout = "60s"|' \
    -e 's|^stall_timeout = .*|stall_timeout = "20s"|' \
    -e 's|^kill_grace = .*|kill_grace = "1s"|' \
    -e 's|^on_finish = .*|on_finish = false|' \
    "$CF" >"$R/config/west-full.toml"
sed -i "s|^\[agent.env\]|[agent.env]\nFAKE_STATE = \"$R/.fake\"|" "$R/config/west-full.toml"
CR="$R/config/west-full.toml"
if [ "$JOBS" = 1 ]; then
    # Four workers without the default 2 s stagger, where the build knows the key.
    sed -i 's|^jobs = .*|&\nspawn_interval = "0s"|' "$CR"
    rs init "$CR"
    [[ "$RS_OUT" == *"spawn_interval: unknown key"* ]] && sed -i '/^spawn_interval = /d' "$CR"
    rm -f "$R/batch_progress_west_full.json"
fi
rs start "$CR" --no-report
assert_eq "$RS_RC" 0 "start: the whole list with the fake agent exits 0"
assert_contains "$RS_OUT" "finished batch west-full-2026: $N completed, 0 failed" "every school completed"
[ "$RS_RC" = 0 ] || diag "$(printf '%s\n' "$RS_OUT" | tail -n 20)"
res=$("$PY" - "$LIST" "$R/.fake/log" "$R/output/west-full" <<'EOF'
import collections, json, os, re, sys
names = [s["name"] for s in json.load(open(sys.argv[1], encoding="utf-8"))["schools"]]
runs = collections.Counter(l.split("|", 1)[0] for l in open(sys.argv[2], encoding="utf-8").read().splitlines())
def slug(n):  # docs/schools.md "Slugs", without a collision suffix
    s = re.sub(rb"[^a-z0-9]+", b"-", n.encode().lower()).strip(b"-")[:64].rstrip(b"-")
    return s.decode() or "school"
probs = []
if sorted(runs) != sorted(names) or set(runs.values()) != {1}:
    probs.append("agent runs per school: %s" % sorted((k, v) for k, v in runs.items() if v != 1 or k not in names))
want = {slug(n) + ".csv" for n in names}
got = set(os.listdir(sys.argv[3]))
if len(want) != len(names):
    probs.append("two names share a slug")
if got != want:
    probs.append("CSV files: missing %s, unexpected %s" % (sorted(want - got), sorted(got - want)))
print("\n".join(probs))
EOF
)
assert_eq "$res" "" "one agent run per school, one CSV per school at its plain slug (no -2 suffix)"

finish
