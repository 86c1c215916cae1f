#!/usr/bin/env python3
"""Write a realistic batch (config + progress file) with N schools for bench_status.sh.

Seeded; a third of the schools completed (with 1-3 attempts), a tenth failed,
the rest pending; one current. Standard library only.
"""
import json, random, sys, os

def main():
    n = int(sys.argv[1]); out = sys.argv[2]
    rnd = random.Random(42)
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    names = [f"Bench University {i:06d}" for i in range(n)]
    with open(os.path.join(out, "data", "schools.json"), "w") as f:
        json.dump({"batch_name": "bench", "created": "2026-11-24",
                   "schools": [{"name": s, "conference": "Bench", "state": "CA"} for s in names]}, f)
    with open(os.path.join(out, "config", "bench.toml"), "w") as f:
        f.write('[batch]\nname = "bench"\nroot = ".."\nschools = "data/schools.json"\n[git]\nenabled = false\n')
    def attempt(k, it, outcome, reason):
        return {"attempt": k, "iteration": it, "started": "2026-11-24T10:00:00Z", "finished": "2026-11-24T10:05:00Z",
                "duration_s": 300.0, "cost_usd": round(rnd.uniform(0.1, 2.0), 6), "cost_estimated": False,
                "outcome": outcome, "class": "item" if outcome == "failed" else "completed", "reason": reason,
                "exit_status": "exit 0", "session_id": "%032x" % rnd.getrandbits(128)}
    completed, failed, pending = [], [], []
    it = 0
    for i, s in enumerate(names):
        slug = s.lower().replace(" ", "-")
        r = rnd.random()
        if i == 0:
            continue
        if r < 0.33:
            k = rnd.randint(1, 3)
            att = [attempt(j + 1, it + j + 1, "failed", "RALPH_DONE claimed 42 coaches, CSV has 40 rows") for j in range(k - 1)]
            att.append(attempt(k, it + k, "completed", None)); it += k
            completed.append({"name": s, "slug": slug, "started": "2026-11-24T10:00:00Z", "finished": "2026-11-24T10:05:00Z",
                              "duration_s": 300.0, "cost_usd": sum(a["cost_usd"] for a in att), "coaches": 40,
                              "overlaps": rnd.randint(0, 3), "csv": f"output/{slug}.csv", "attempts": att})
        elif r < 0.43:
            att = [attempt(j + 1, it + j + 1, "failed", "agent reported failure: no staff directory") for j in range(3)]
            it += 3
            failed.append({"name": s, "slug": slug, "started": "2026-11-24T10:00:00Z", "finished": "2026-11-24T10:15:00Z",
                           "duration_s": 900.0, "cost_usd": sum(a["cost_usd"] for a in att),
                           "reason": "agent reported failure: no staff directory", "attempts": att})
        else:
            pending.append(s)
    cost = sum(c["cost_usd"] for c in completed) + sum(c["cost_usd"] for c in failed)
    prog = {"schema_version": 1, "batch_name": "bench", "status": "running", "started": "2026-11-24T10:00:00Z",
            "last_updated": "2026-11-24T12:00:00Z", "current_school": names[0],
            "current": {"name": names[0], "slug": names[0].lower().replace(" ", "-"), "attempt": 1, "iteration": it + 1,
                        "started": "2026-11-24T12:00:00Z", "supervisor_pid": 1, "pid": 2, "run_token": "x"},
            "pending": pending, "completed": completed, "failed": failed, "retry_history": [],
            "iterations": it + 1, "cost_usd": round(cost, 6), "cost_estimated": False, "stopped": None}
    with open(os.path.join(out, "batch_progress.json"), "w") as f:
        json.dump(prog, f, indent=2)

main()
