#!/bin/bash
# `ralphsup merge` at the size of every college with athletics (issue 16):
# N shard refs of a finished batch of S schools are generated directly (a
# shard progress file per ref, written as `start --shard` writes it, and a
# 4-row CSV per school, as [git] include_outputs commits it), then merge
# reads them from the repository's own refs, checks, combines, writes and
# commits them, and writes the master report. Prints wall time and peak RSS
# of the merge; results in bench/RESULTS.md.
#
#   bash bench/bench_merge.sh [SCHOOLS] [SHARDS]     (default 2200 8)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RALPHSUP=${RALPHSUP:-$ROOT/build/supervisor/ralphsup}
S=${1:-2200}
N=${2:-8}
D=$(mktemp -d /tmp/ralphsup-bench-merge.XXXXXX)
trap 'rm -rf "$D"' EXIT
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org

mkdir -p "$D/config" "$D/data"
git -C "$D" init -q
git -C "$D" commit -q --allow-empty -m "initial"
cat >"$D/config/batch.toml" <<EOF
[batch]
name = "bench"
root = ".."
schools = "data/schools.json"
order = "list"
[git]
include_outputs = true
EOF
python3 - "$D" "$S" "$N" <<'EOF'
import json, os, subprocess, sys
d, S, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def key(s): return " ".join(s.replace("\t", " ").split()).lower()
def fnv(b, h=14695981039346656037):
    for c in b:
        h = ((h ^ c) * 1099511628211) % 2**64
    return h
names = [f"Bench College {i:04d} of {('Plains', 'Coast', 'Hills')[i % 3]}" for i in range(S)]
json.dump({"batch_name": "bench", "schools": [{"name": n, "conference": "C", "state": "CO"} for n in names]},
          open(f"{d}/data/schools.json", "w"))
hl = fnv(b"".join(k.encode() + b"\n" for k in sorted(key(n) for n in names)))
hdr = "school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked\r\n"
t = "2026-12-01T00:00:00Z"
env = dict(os.environ, GIT_INDEX_FILE=f"{d}/.git/bench-index")
subprocess.run(["git", "-C", d, "add", "config", "data"], check=True)
subprocess.run(["git", "-C", d, "commit", "-qm", "the batch"], check=True)
base = subprocess.run(["git", "-C", d, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
for i in range(N):
    mine = [n for n in names if fnv(key(n).encode()) % N == i]
    os.makedirs(f"{d}/output", exist_ok=True)
    completed = []
    for it, n in enumerate(mine, 1):
        slug = key(n).replace(" ", "-")
        rows = "".join(f"{n},Coach {r},Head Coach,Soccer,coach{r}@example.edu,,no,,https://example.edu/staff,,,,,,school\r\n"
                       for r in range(1, 5))
        open(f"{d}/output/{slug}.csv", "w", newline="").write(hdr + rows)
        completed.append({"name": n, "slug": slug, "started": t, "finished": t, "duration_s": 1.0, "cost_usd": 0.05,
                          "coaches": 4, "overlaps": 0, "csv": f"output/{slug}.csv",
                          "attempts": [{"attempt": 1, "iteration": it, "started": t, "finished": t, "duration_s": 1.0,
                                        "cost_usd": 0.05, "cost_estimated": False, "outcome": "completed",
                                        "class": "completed", "reason": None, "exit_status": "exit 0",
                                        "session_id": f"s-{i}-{it}"}]})
    p = {"schema_version": 1, "batch_name": "bench", "status": "finished", "started": t, "last_updated": t,
         "current_school": None, "current": None, "in_progress": [], "pending": [], "completed": completed,
         "failed": [], "retry_history": [], "iterations": len(mine), "cost_usd": round(0.05 * len(mine), 4),
         "cost_estimated": False, "stopped": None,
         "shard": {"index": i, "count": N, "schools_hash": f"fnv1a64:{hl:016x}"}}
    json.dump(p, open(f"{d}/batch_progress.shard-{i}-of-{N}.json", "w"), indent=2)
    subprocess.run(["git", "-C", d, "read-tree", base], env=env, check=True)
    subprocess.run(["git", "-C", d, "add", "-f", f"batch_progress.shard-{i}-of-{N}.json"] +
                   [f"output/{c['slug']}.csv" for c in completed], env=env, check=True)
    tree = subprocess.run(["git", "-C", d, "write-tree"], env=env, capture_output=True, text=True, check=True).stdout.strip()
    c = subprocess.run(["git", "-C", d, "commit-tree", tree, "-p", base, "-m", f"shard {i}"], capture_output=True,
                       text=True, check=True).stdout.strip()
    subprocess.run(["git", "-C", d, "update-ref", f"refs/heads/ralphsup/shard-{i}-of-{N}", c], check=True)
    for c in completed:
        os.remove(f"{d}/{c['csv']}")
    os.remove(f"{d}/batch_progress.shard-{i}-of-{N}.json")
EOF
/usr/bin/time -f '%e s wall, %U s user, %S s sys, %M KiB peak RSS' -o "$D/time" "$RALPHSUP" merge "$D/config/batch.toml" ${MERGE_ARGS:-} >"$D/out" 2>&1 ||
    { cat "$D/out"; exit 1; }
tail -n 3 "$D/out" | head -n 1
printf 'merge of %s schools over %s shards: %s\n' "$S" "$N" "$(cat "$D/time")"
git -C "$D" log -1 --format='parents: %p' | awk '{print $1, NF - 1}'
