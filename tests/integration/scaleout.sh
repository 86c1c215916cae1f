#!/bin/bash
# contrib/k8s and contrib/slurm (issue 16, docs/scale-out.md): the scripts
# pass `bash -n`; the manifests parse as YAML and pass a field check of what
# the Job controller relies on (below); with an API server reachable they
# also pass `kubectl create --dry-run=client`. kubectl 1.32 needs a server
# even for a client-side dry run (it maps kinds through the server's
# discovery and validates against the server's OpenAPI), and none runs here,
# so the field check is what always runs. Then the sbatch script runs
# locally with SLURM_ARRAY_TASK_ID set (no srun here: it runs the shard
# itself), for both tasks of a 2-shard array, and the merge sbatch script
# merges them.
. "$(dirname "$0")/lib.sh"

K8S="$RALPHSUP_SOURCE_ROOT/contrib/k8s"
SLURM="$RALPHSUP_SOURCE_ROOT/contrib/slurm"
for f in "$K8S/entrypoint.sh" "$K8S/merge.sh" "$SLURM/ralphsup-array.sbatch" "$SLURM/ralphsup-merge.sbatch"; do
    check "bash -n ${f#"$RALPHSUP_SOURCE_ROOT"/}" bash -n "$f"
done

out=$("$PY" - "$K8S" <<'EOF' 2>&1
import glob, os, sys, yaml
d = sys.argv[1]
docs = {}
for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
    for doc in yaml.safe_load_all(open(f)):
        docs[(doc["kind"], doc["metadata"]["name"])] = doc
bad = []
def need(cond, what):
    if not cond:
        bad.append(what)
secret = docs.get(("Secret", "ralphsup-api-key"))
need(secret and secret["apiVersion"] == "v1" and "ANTHROPIC_API_KEY" in secret.get("stringData", {}), "the Secret holds ANTHROPIC_API_KEY")
JOB_KEYS = {"completionMode", "completions", "parallelism", "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes",
            "podFailurePolicy", "template", "ttlSecondsAfterFinished", "activeDeadlineSeconds"}
for name in ("ralphsup-shards", "ralphsup-merge"):
    job = docs.get(("Job", name))
    need(job is not None, f"Job {name} exists")
    if not job:
        continue
    need(job["apiVersion"] == "batch/v1", f"{name}: apiVersion batch/v1")
    spec = job["spec"]
    need(set(spec) <= JOB_KEYS, f"{name}: unknown spec keys {set(spec) - JOB_KEYS}")
    pod = spec["template"]["spec"]
    need(pod.get("restartPolicy") == "Never", f"{name}: podFailurePolicy needs restartPolicy Never")
    names = [c["name"] for c in pod["containers"]]
    for c in pod["containers"]:
        need(isinstance(c.get("image"), str) and c.get("command"), f"{name}/{c['name']}: image and command")
        for e in c.get("env", []):
            need(set(e) <= {"name", "value", "valueFrom"} and ("value" in e) != ("valueFrom" in e), f"{name}: env {e}")
            need("value" not in e or isinstance(e["value"], str), f"{name}: env {e['name']} value must be a string")
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                need(ref["name"] == "ralphsup-api-key", f"{name}: env {e['name']} names the Secret")
    for r in spec.get("podFailurePolicy", {}).get("rules", []):
        need(r["action"] in ("FailJob", "FailIndex", "Ignore", "Count"), f"{name}: action {r['action']}")
        need(("onExitCodes" in r) != ("onPodConditions" in r), f"{name}: a rule has one of onExitCodes, onPodConditions")
        ec = r.get("onExitCodes")
        if ec:
            need(ec.get("containerName") in names, f"{name}: rule names container {ec.get('containerName')}")
            need(ec["operator"] in ("In", "NotIn"), f"{name}: operator {ec['operator']}")
            vals = ec["values"]
            need(all(isinstance(v, int) and 0 <= v <= 255 for v in vals) and vals == sorted(set(vals)),
                 f"{name}: exit codes must be sorted, unique, 0-255: {vals}")
            need(not (ec["operator"] == "In" and 0 in vals), f"{name}: 0 is not allowed with In")
        if r["action"] == "FailIndex":
            need("backoffLimitPerIndex" in spec, f"{name}: FailIndex needs backoffLimitPerIndex")
shards = docs.get(("Job", "ralphsup-shards"))
if shards:
    spec = shards["spec"]
    need(spec.get("completionMode") == "Indexed", "the shard Job is Indexed")
    need(spec["completions"] == spec["parallelism"], "completions = parallelism")
    env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
    need(env.get("RALPHSUP_SHARDS") == str(spec["completions"]), "RALPHSUP_SHARDS = completions")
    need(spec["template"]["spec"].get("terminationGracePeriodSeconds", 30) >= 10 + 30,
         "terminationGracePeriodSeconds covers kill_grace (10 s) + the final commit and push")
    rules = {r["action"]: r for r in spec["podFailurePolicy"]["rules"]}
    need(set(rules["FailJob"]["onExitCodes"]["values"]) >= {65, 77, 78}, "config, data and auth errors fail the Job")
    need(3 in rules["FailIndex"]["onExitCodes"]["values"], "a limit (3) fails the index")
    need(rules["Ignore"]["onPodConditions"] == [{"type": "DisruptionTarget"}], "a disruption is ignored")
print("\n".join(bad) if bad else "ok")
EOF
)
assert_eq "$out" "ok" "the manifests parse as YAML and pass the field check"
if timeout 10 kubectl version --request-timeout=3s >/dev/null 2>&1; then
    check "kubectl create --dry-run=client" kubectl create --dry-run=client -f "$K8S" -o name
else
    echo "# kubectl: no API server reachable, so no kubectl dry run (field check above)"
fi

# The sbatch script, locally, for the two tasks of an array of 2; then the merge script.
T=$(new_tmp)
LIMITS='spawn_interval = "0s"' make_batch "$T/src" "Rowan University" "Poplar Tech" "Maple College"
printf 'logs/\n*.lock\n.fake/\n' >"$T/src/.gitignore"
git -C "$T/src" add -A && git -C "$T/src" commit -qm "the batch"
git clone -q --bare "$T/src" "$T/remote.git"
for i in 0 1; do
    (cd "$T" && env -u SLURM_JOB_ID SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_JOB_ID=77 TMPDIR="$T" \
        RALPHSUP_REPO="$T/remote.git" RALPHSUP_BIN="$RALPHSUP" bash "$SLURM/ralphsup-array.sbatch") >"$T/task$i.out" 2>&1
    assert_eq "$?" 0 "ralphsup-array.sbatch with SLURM_ARRAY_TASK_ID=$i: exit 0"
    check "task $i pushed refs/heads/ralphsup/shard-$i-of-2 (cloned into \$TMPDIR/ralphsup-77-$i)" \
        git -C "$T/remote.git" rev-parse -q --verify "refs/heads/ralphsup/shard-$i-of-2"
done
check "task 1 ran in its own clone" test -s "$T/ralphsup-77-1/batch_progress.shard-1-of-2.json"
(cd "$T" && env -u SLURM_JOB_ID TMPDIR="$T" RALPHSUP_REPO="$T/remote.git" RALPHSUP_BIN="$RALPHSUP" \
    bash "$SLURM/ralphsup-merge.sbatch") >"$T/merge.out" 2>&1
assert_eq "$?" 0 "ralphsup-merge.sbatch: exit 0"
assert_contains "$(cat "$T/merge.out")" "merged 2 shards of batch itest" "the merge script merged the 2 shards"
assert_eq "$(git -C "$T/remote.git" log -1 --format=%P HEAD | wc -w)" 2 "the merge commit pushed, with the 2 shard heads as parents"
out=$(env -u SLURM_ARRAY_TASK_ID bash "$SLURM/ralphsup-array.sbatch" 2>&1)
assert_contains "$out" "SLURM_ARRAY_TASK_ID is not set" "the sbatch script without a task id says so"
finish
