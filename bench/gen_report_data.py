#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generate a batch for bench/bench_report.sh: N schools x 40 coaches of messy
per-school CSVs (quotes, commas, embedded newlines, leading/trailing spaces,
accents, CJK, emoji, =/+/-/@ cells, N/A, null, empty cells, leading-zero
phones, CRLF and LF files, some with a BOM) plus a matching
batch_progress.json (schema of include/ralphsup/store/progress.h / supervisor/store/progress.c).

Seeded: the same arguments give byte-identical output.
Usage: gen_report_data.py ROOT N [--seed S] [--coaches 40]
"""
import argparse
import json
import os
import random

FIRST = ["John", "Jane", "José", "Zoë", "Łukasz", "李", "Anne-Marie", "O'Brien", "Mary", "Ahmed",
         "Siobhán", "Renée", "Björn", "Chloé", "D'Andre", "Nguyễn", "Søren", "Ana", "Kai", "Li"]
LAST = ["Smith", "García", "Müller", "O'Neil", "van der Berg", "Smith, Jr.", "Nakamura", "Łęcki",
        "王", "Dubois", "Brown", "Ng", "Ivanova", "de la Cruz", "Kowalski", "Øster", "Jones"]
TITLES = ["Head Coach", "Assistant Coach", "Associate Head Coach", "Director of Operations",
          "Head Coach, Men's & Women's", "Volunteer Assistant", "Strength & Conditioning",
          "\"Interim\" Head Coach", "Graduate Assistant", "-", "N/A", ""]
SPORTS = ["Swimming & Diving", "Track and Field", "Rowing", "Soccer", "Basketball", "Volleyball",
          "Lacrosse", "Field Hockey", "Tennis", "Golf", "Cross Country", "Softball", "🏊 Swim", "Fútbol"]
TRUTHY = ["yes", "Yes", "YES", "true", "TRUE", "1", "y", " yes "]
FALSY = ["no", "No", "false", "0", "n", "", "N/A", "null", "unknown"]
EVIDENCE = [
    "Ran a \"Be The Match\" drive in 2019",
    "Registered donor, posted on Twitter:\n\"Swab for Sarah!\"",
    "Team hosted a swab event, 120 registrants",
    "Quoted in NMDP newsletter, page 3",
    "Donated marrow to a stranger; see https://example.org/story?id=42&x=1",
    "家族が骨髄提供 (family donor) 😀",
]


def rand_phone(r):
    k = r.random()
    if k < 0.15:
        return ""
    if k < 0.25:
        return "N/A"
    if k < 0.45:
        return "0" + "".join(r.choice("0123456789") for _ in range(9))
    if k < 0.6:
        return "+1 (%03d) %03d-%04d" % (r.randrange(1000), r.randrange(1000), r.randrange(10000))
    return "%03d-%03d-%04d" % (r.randrange(1000), r.randrange(1000), r.randrange(10000))


def cell(v):
    if any(c in v for c in ',"\r\n') or v[:1] == " " or v[-1:] == " ":
        return '"' + v.replace('"', '""') + '"'
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=4180)
    ap.add_argument("--coaches", type=int, default=40)
    a = ap.parse_args()
    r = random.Random(a.seed)
    out = os.path.join(a.root, "output")
    os.makedirs(out, exist_ok=True)
    t0 = 1767225600000  # 2026-01-01T00:00:00Z
    completed, failed, pending = [], [], []
    total_cost = 0.0
    cols = ["school", "coach_name", "title", "sport", "email", "phone", "nmdp_overlap",
            "overlap_evidence", "source_url"]

    def iso(ms):
        import datetime
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    for i in range(a.n):
        name = "University %d of %s" % (i, r.choice(["Springfield", "São Paulo", "Zürich", "Tōkyō", "Québec",
                                                       "Ohio, Main Campus"]))
        slug = "school-%05d" % i
        start = t0 + i * 400000
        dur = r.randrange(120000, 900000)
        cost = round(r.uniform(0.2, 2.5), 6)
        k = r.random()
        if k < 0.03 and a.n > 10:
            failed.append({"name": name, "slug": slug, "started": iso(start), "finished": iso(start + dur),
                           "cost_usd": cost, "reason": "no athletics staff directory found",
                           "attempts": [{"attempt": j + 1, "started": iso(start + j * 1000),
                                         "finished": iso(start + j * 1000 + dur // 3), "cost_usd": cost / 3,
                                         "outcome": "failed", "reason": "RALPH_FAIL: no directory"}
                                        for j in range(3)]})
            total_cost += cost
            continue
        if k < 0.05 and a.n > 10:
            pending.append(name)
            continue
        crlf = r.random() < 0.5
        eol = "\r\n" if crlf else "\n"
        lines = []
        overlaps = 0
        for c in range(a.coaches):
            warm = r.random() < 0.15
            overlaps += warm
            first, last = r.choice(FIRST), r.choice(LAST)
            coach = "%s %s" % (first, last)
            if r.random() < 0.05:
                coach = "  " + coach + " "
            email = "%s.%s@%s.edu" % (first.lower(), last.lower().replace(" ", ""), slug) if r.random() < 0.8 else \
                r.choice(["", "null", "N/A"])
            url = "https://athletics.%s.edu/staff/%d" % (slug, c)
            if r.random() < 0.03:
                url = '=HYPERLINK("https://athletics.%s.edu","staff")' % slug
            row = [name if r.random() < 0.98 else "", coach, r.choice(TITLES), r.choice(SPORTS), email,
                   rand_phone(r), r.choice(TRUTHY) if warm else r.choice(FALSY),
                   r.choice(EVIDENCE) if warm else ("" if r.random() < 0.9 else "@mention only"), url]
            if r.random() < 0.02:
                row[2] = "+" + row[2]
            lines.append(",".join(cell(v) for v in row))
        bom = "\ufeff" if r.random() < 0.2 else ""
        text = bom + ",".join(cols) + eol + eol.join(lines) + (eol if r.random() < 0.9 else "")
        rel = "output/%s.csv" % slug
        with open(os.path.join(a.root, rel), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        completed.append({"name": name, "slug": slug, "started": iso(start), "finished": iso(start + dur),
                          "cost_usd": cost, "coaches": a.coaches, "overlaps": overlaps, "csv": rel,
                          "attempts": [{"attempt": 1, "started": iso(start), "finished": iso(start + dur),
                                        "cost_usd": cost, "outcome": "completed"}]})
        total_cost += cost

    prog = {"schema_version": 1, "batch_name": "bench %d" % a.n, "status": "finished",
            "started": iso(t0), "last_updated": iso(t0 + a.n * 400000), "current": None,
            "pending": pending, "completed": completed, "failed": failed, "retry_history": [],
            "iterations": len(completed) + 3 * len(failed), "cost_usd": round(total_cost, 6),
            "cost_estimated": False, "stopped": None}
    with open(os.path.join(a.root, "batch_progress.json"), "w", encoding="utf-8") as f:
        json.dump(prog, f, ensure_ascii=False, indent=1)
    print("gen_report_data: %d schools (%d completed, %d failed, %d pending) x %d coaches in %s"
          % (a.n, len(completed), len(failed), len(pending), a.coaches, a.root))


if __name__ == "__main__":
    main()
