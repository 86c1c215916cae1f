#!/bin/bash
# Shards on an engine, played on this machine (issue 16, docs/scale-out.md).
#
# A bare repository is the batch repository (the remote). Four "pods" are
# four processes running contrib/k8s/entrypoint.sh in their own clones with
# JOB_COMPLETION_INDEX 0–3 and the scripted agent: each clones, runs
# `start --shard auto/4`, pushes refs/heads/ralphsup/shard-I-of-4 and exits
# with ralphsup's code. Pod 2's ralphsup is killed (kill -9) while its slow
# school is in flight; the pushed ref then holds an unfinished shard, which
# a merge names (exit 1, nothing written) and --allow-partial would accept.
# Pod 2 runs again with the same index in a fresh clone (a replaced pod) and
# resumes from its ref. Then the merge Job's command (contrib/k8s/merge.sh):
# one commit whose parents are the four shard heads, pushed. The merged
# progress (state, coaches, overlaps, CSV path per school), the CSV bytes
# and the master report's rows equal those of one single-machine `start` of
# the same batch; a merge from local directories (DIR…) with one shard
# missing names it.
. "$(dirname "$0")/lib.sh"

ENTRY="$RALPHSUP_SOURCE_ROOT/contrib/k8s/entrypoint.sh"
MERGE="$RALPHSUP_SOURCE_ROOT/contrib/k8s/merge.sh"
T=$(new_tmp)
SRC=$T/src
SCHOOLS=("Alder College" "Birch University" "Cedar State" "Dogwood Tech" "Elm Institute" "Fir A&M"
    "Ginkgo College" "Hazel University" "Ironwood State" "Juniper Tech" "Kapok College" "Larch University"
    "Nutmeg State" "Oak University")

# The shard of a name, computed here from the documented rule (FNV-1a 64 of the lookup key, mod N).
shard_of() {
    "$PY" -c '
import sys
k = " ".join(sys.argv[1].replace("\t", " ").split()).lower()
h = 14695981039346656037
for b in k.encode():
    h = ((h ^ b) * 1099511628211) % 2**64
print(h % int(sys.argv[2]))' "$1" "$2"
}

LIMITS='spawn_interval = "0s"
jobs = 2' make_batch "$SRC" "${SCHOOLS[@]}"
sed -i '/^FAKE_STATE = /d; s/^\[git\]$/[git]\ninclude_outputs = true/' "$SRC/config/batch.toml"
slow=
declare -A per=()
for s in "${SCHOOLS[@]}"; do
    i=$(shard_of "$s" 4)
    per[$i]=$(( ${per[$i]:-0} + 1 ))
    [ -z "$slow" ] && [ "$i" = 2 ] && slow=$s
done
assert_eq "${per[0]:-0}/${per[1]:-0}/${per[2]:-0}/${per[3]:-0}" "5/3/3/3" "the documented hash spreads the 14 schools over the 4 shards"
plan "$SRC" "{\"$slow\": {\"default\": \"slow_done\"}}"
printf 'logs/\n*.lock\n.fake/\n' >"$SRC/.gitignore"
git -C "$SRC" add -A && git -C "$SRC" commit -qm "the batch"
git clone -q --bare "$SRC" "$T/remote.git"
C=config/batch.toml

# The single-machine run of the same batch, for comparison.
git clone -q "$T/remote.git" "$T/single"
FAKE_STATE=$SRC/.fake/single FAKE_SLOW_S=1 "$RALPHSUP" start "$T/single/$C" >"$T/single.out" 2>&1
assert_eq "$?" 0 "single machine: start finishes"
"$RALPHSUP" report "$T/single/$C" >"$T/single.report" 2>&1
assert_eq "$?" 0 "single machine: report"

# The fake agent's bookkeeping of each run goes below $SRC/.fake: the one path the fenced agents
# may write besides their work directories (lib.sh's make_batch lists it in [agent] writable).
pod() { # INDEX DIR SLOW_S: the pod's environment, then the entrypoint
    env JOB_COMPLETION_INDEX="$1" RALPHSUP_REPO="$T/remote.git" RALPHSUP_SHARDS=4 RALPHSUP_WORKDIR="$2" \
        RALPHSUP_BIN="$RALPHSUP" RALPHSUP_CONFIG=$C FAKE_STATE="$SRC/.fake/${2##*/}" FAKE_SLOW_S="$3" bash "$ENTRY"
}
declare -A PODS=()
for i in 0 1 2 3; do
    slow_s=1
    [ "$i" = 2 ] && slow_s=60
    bg_start "$T/pod$i.out" pod "$i" "$T/pod$i" "$slow_s"
    PODS[$i]=$BG_PID
done
# Index 3 runs twice at once (a pod the engine thought lost still runs): one push wins.
bg_start "$T/pod3twin.out" pod 3 "$T/pod3twin" 1
TWIN=$BG_PID

# Pod 2: kill -9 its ralphsup while the slow school runs.
# The other two schools of shard 2 complete meanwhile (jobs = 2); then the kill.
two_done() { [ "$(json_get "$T/pod2/batch_progress.shard-2-of-4.json" "len(d['completed'])" 2>/dev/null)" = 2 ]; }
wait_for 20 two_done
check "pod 2: two schools completed, the slow one in flight" grep -qs "^$slow|" "$SRC/.fake/pod2/log"
sup=
for i in $(seq 50); do
    # bg_start's subshell runs env → bash entrypoint → ralphsup: find the ralphsup below pod 2 by parent ids.
    for p in $(ps -o pid= --ppid "${PODS[2]}") ; do
        for q in $(ps -o pid= --ppid "$p") "$p"; do
            [ "$(cat /proc/$q/comm 2>/dev/null)" = ralphsup ] && sup=$q
        done
    done
    [ -n "$sup" ] && break
    sleep 0.1
done
check "pod 2: its ralphsup is running the slow school" test -n "$sup"
[ -n "$sup" ] && kill -KILL "$sup"
bg_wait "${PODS[2]}"
assert_eq "$BG_RC" 137 "pod 2: the entrypoint exits with ralphsup's code (killed: 137)"
assert_contains "$(cat "$T/pod2.out")" "ralphsup exited 137" "pod 2: pushed its ref after the kill"
for i in 0 1; do
    bg_wait "${PODS[$i]}"
    assert_eq "$BG_RC" 0 "pod $i: shard $i/4 finished, exit 0"
done
bg_wait "${PODS[3]}"
rc3=$BG_RC
bg_wait "$TWIN"
assert_eq "$(printf '%s\n' "$rc3" "$BG_RC" | sort -n | tr '\n' ' ')" "0 75 " \
    "index 3 twice: one pod's push wins (0), the other is refused (75)"
check "the refused pod's commits are pushed beside the shard ref" \
    test "$(git -C "$T/remote.git" for-each-ref --format=x 'refs/heads/ralphsup/shard-3-of-4.attempt-*' | wc -l)" = 1
refs=
for i in 0 1 2 3; do
    git -C "$T/remote.git" rev-parse -q --verify "refs/heads/ralphsup/shard-$i-of-4" >/dev/null && refs="$refs $i"
done
assert_eq "$refs" " 0 1 2 3" "every pod pushed its shard ref"
git -C "$T/remote.git" show "refs/heads/ralphsup/shard-2-of-4:batch_progress.shard-2-of-4.json" >"$T/killed.json"
assert_file_json "$T/killed.json" "d['shard']['index'] == 2 and d['shard']['count'] == 4 and W('$slow') != 'completed'" \
    "pod 2's pushed ref: the shard recorded, the slow school not completed"

# A merge now names the unfinished shard and writes nothing.
git clone -q "$T/remote.git" "$T/early"
out=$("$RALPHSUP" merge "$T/early/$C" --from origin 2>&1)
assert_eq "$?" 1 "merge while shard 2 is unfinished: exit 1 (partial)"
assert_contains "$out" "shard 2/4: 1 school not finished" "merge names the unfinished shard"
check "a partial merge writes nothing" test ! -e "$T/early/batch_progress.json"

# The replaced pod: same index, a fresh clone; it resumes from the ref pod 2 pushed.
pod 2 "$T/pod2b" 1 >"$T/pod2b.out" 2>&1
assert_eq "$?" 0 "pod 2 again (same index): finishes, exit 0"
assert_contains "$(cat "$T/pod2b.out")" "resumes from origin/ralphsup/shard-2-of-4" "pod 2 again: resumed from the pushed ref"
assert_eq "$(cut -d'|' -f1 "$SRC/.fake/pod2b/log" | sort -u)" "$slow" "pod 2 again: ran only the school the killed pod left unfinished"

# The merge Job's command.
env RALPHSUP_REPO="$T/remote.git" RALPHSUP_WORKDIR="$T/merge" RALPHSUP_BIN="$RALPHSUP" RALPHSUP_CONFIG=$C \
    bash "$MERGE" >"$T/merge.out" 2>&1
assert_eq "$?" 0 "merge.sh: exit 0"
M=$T/merge
parents=$(git -C "$T/remote.git" log -1 --format=%P HEAD)
heads=$(git -C "$T/remote.git" for-each-ref --format='%(objectname)' 'refs/heads/ralphsup/' | sort | tr '\n' ' ')
assert_eq "$(printf '%s\n' $parents | sort | tr '\n' ' ')" "$heads" \
    "the pushed merge commit's parents are the shard heads (4, and the refused twin's)"
assert_contains "$(git -C "$T/remote.git" log -1 --format=%B HEAD)" "Ralphsup-Event: merged" "the merge commit carries its trailers"
check "the merged tree holds the merged progress file" git -C "$T/remote.git" cat-file -e HEAD:batch_progress.json

# Merged = single machine: per school, the CSVs' bytes, the report's rows.
cmp_out=$("$PY" - "$M/batch_progress.json" "$T/single/batch_progress.json" <<'EOF'
import json, sys
def view(path):
    d = json.load(open(path))
    v = {}
    for k in ("completed", "failed"):
        for s in d[k]:
            v[s["name"]] = (k, s.get("coaches"), s.get("overlaps"), s.get("csv"), s.get("slug"), s.get("reason"))
    for n in d["pending"]:
        v[n] = ("pending",)
    return d, v
dm, m = view(sys.argv[1])
ds, s = view(sys.argv[2])
bad = [f"{n}: merged {m.get(n)} single {s.get(n)}" for n in sorted(set(m) | set(s)) if m.get(n) != s.get(n)]
if dm["status"] != "finished" or ds["status"] != "finished":
    bad.append(f"status merged {dm['status']} single {ds['status']}")
tot = sum(a["cost_usd"] for k in ("completed", "failed", "retry_history") for x in dm[k] for a in x["attempts"])
if abs(tot - dm["cost_usd"]) > 1e-6:
    bad.append(f"merged cost_usd {dm['cost_usd']} is not the sum of its attempts {tot}")
print("\n".join(bad) if bad else "same")
EOF
)
assert_eq "$cmp_out" "same" "merged progress = single machine (state, coaches, overlaps, CSV path, slug of every school)"
diffs=
for s in "${SCHOOLS[@]}"; do
    f=$(json_get "$M/batch_progress.json" "[x['csv'] for x in d['completed'] if x['name'] == '''$s'''][0]")
    cmp -s "$M/$f" "$T/single/$f" || diffs="$diffs $s"
done
assert_eq "$diffs" "" "every school's CSV: the same bytes as the single machine's"
mr=$(ls "$M"/output/master_report_*.csv 2>/dev/null | head -1)
sr=$(ls "$T/single"/output/master_report_*.csv 2>/dev/null | head -1)
check "merge wrote the master report" test -s "$mr"
assert_eq "$(sort "$mr" | md5sum)" "$(sort "$sr" | md5sum)" "the master report's rows: the same as the single machine's"
assert_eq "$(wc -l <"$mr")" "$(wc -l <"$sr")" "the master report: as many lines"
assert_file_json "$M/batch_progress.json" "d['merged_shards']['count'] == 4 and len(d['merged_shards']['heads']) == 5" \
    "the merged progress names the shards it came from"
assert_file_json "$M/batch_progress.json" "len(S('$slow')['attempts']) == 1 and S('$slow')['attempts'][0]['outcome'] == 'completed'" \
    "the killed school: one completed attempt (the killed one was never recorded)"

# Index 3 ran twice: every school of it has both pods' attempts, and their cost counts.
twin_out=$("$PY" - "$M/batch_progress.json" "$T/pod3/batch_progress.shard-3-of-4.json" \
    "$T/pod3twin/batch_progress.shard-3-of-4.json" <<'EOF'
import json, sys
m, a, b = (json.load(open(f)) for f in sys.argv[1:])
bad = []
for s in a["completed"]:
    mine = next(x for x in m["completed"] if x["name"] == s["name"])
    other = next(x for x in b["completed"] if x["name"] == s["name"])
    if len(mine["attempts"]) != 2:
        bad.append(f"{s['name']}: {len(mine['attempts'])} attempts")
    if abs(mine["cost_usd"] - (s["cost_usd"] + other["cost_usd"])) > 1e-9:
        bad.append(f"{s['name']}: cost {mine['cost_usd']} != {s['cost_usd']} + {other['cost_usd']}")
print("\n".join(bad) if bad else f"ok {len(a['completed'])}")
EOF
)
assert_eq "$twin_out" "ok 3" "index 3 twice: both pods' attempts merged, their costs summed"

# status: one shard, and every shard file it finds.
out=$("$RALPHSUP" status "$T/pod2b/$C" --shard 2/4 2>&1)
assert_contains "$out" "shard 2/4" "status --shard 2/4 shows the shard"
out=$("$RALPHSUP" status "$M/$C" 2>&1)
assert_contains "$out" "shard 3/4" "status lists the shard files it finds"

# merge from local directories (DIR…), one shard missing: named, exit 1; --allow-partial merges.
git clone -q "$SRC" "$T/dirs"
out=$("$RALPHSUP" merge "$T/dirs/$C" "$T/pod0" "$T/pod1" "$T/pod3" 2>&1)
assert_eq "$?" 1 "merge DIR… without shard 2: exit 1"
assert_contains "$out" "shard 2/4: no ref refs/heads/ralphsup/shard-2-of-4" "merge names the missing shard"
out=$("$RALPHSUP" merge "$T/dirs/$C" --allow-partial --no-report "$T/pod0" "$T/pod1" "$T/pod3" 2>&1)
assert_eq "$?" 0 "merge --allow-partial: exit 0"
assert_file_json "$T/dirs/batch_progress.json" "W('$slow') == 'pending' and d['status'] == 'stopped' and len(d['completed']) == 11" \
    "a partial merge: the missing shard's schools pending, the rest completed"
assert_eq "$(git -C "$T/dirs" log -1 --format=%P | wc -w)" 3 "a partial merge commit: the 3 heads it had"

# Shards that disagree are refused (65), naming what differs.
git clone -q "$T/remote.git" "$T/bad"
"$PY" - "$T/bad/data/schools.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["schools"].append({"name": "Quince College", "conference": "Test Conference", "state": "CO", "priority": 2})
json.dump(d, open(sys.argv[1], "w"))
EOF
out=$("$RALPHSUP" merge "$T/bad/$C" --from origin 2>&1)
assert_eq "$?" 65 "merge after the list changed: exit 65"
assert_contains "$out" "ran a different school list" "merge names the shard that ran another list"
git -C "$T/bad" checkout -q -- data/schools.json
git -C "$T/bad" update-ref refs/heads/ralphsup/shard-0-of-3 HEAD
git -C "$T/bad" update-ref refs/heads/ralphsup/shard-1-of-4 refs/remotes/origin/ralphsup/shard-1-of-4
out=$("$RALPHSUP" merge "$T/bad/$C" 2>&1)
assert_eq "$?" 65 "merge of refs of two N's: exit 65"
assert_contains "$out" "disagree on N" "merge names the refs of another N"
finish
