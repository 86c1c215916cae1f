#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Independent read-back check of a ralphsup report (run with /usr/bin/python3,
which has openpyxl; the pyenv python on PATH does not).

It re-derives every expected lead cell from the *input* CSVs with Python's own
csv module and compares, cell by cell:
  inputs  ==  Leads sheet (as Excel shows it)  ==  master CSV (minus the
  formula-escape prefix), and Warm leads == truthy rows of Leads.
It also asserts that no cell anywhere in the workbook is a formula (both via
openpyxl's data_type and by looking for <f> elements in the raw sheet XML).

Usage:
  check_xlsx.py --xlsx F --csv F [--input PATH[:NROWS]]... [--escape 0|1]
                [--truthy yes,true,1,y] [--failed NAME]... [--expect-partial]
                [--expect-problem SUBSTRING]... [--sheets-in-order]
                [--expect-rows N] [--expect-warm N]
--input PATH:NROWS limits a bad file to its first NROWS data rows (the rows the
report keeps before the error); files whose header cannot be mapped are simply
not passed. --expect-rows / --expect-warm assert the absolute number of lead
rows and warm leads (on the sheets, in the master CSV and on the Summary). Exit 0 when everything matches, 1 with a list of mismatches.
"""
import argparse
import csv
import io
import re
import sys
import zipfile

import openpyxl

COLUMNS = ["school", "coach_name", "title", "sport", "email", "phone",
           "nmdp_overlap", "overlap_evidence", "source_url",
           "evidence_url", "evidence_quote", "evidence_date", "evidence_type", "confidence", "overlap_checked"]
NREQUIRED = 9  # the lead columns; the six evidence columns may be absent from an input (left empty)
NCOLS = len(COLUMNS)
CELL_MAX = 32767
XESC = re.compile(r"_[xX][0-9A-Fa-f]{4}_")
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

errors = []


def fail(msg):
    errors.append(msg)


def excel_text(v):
    """What Excel displays for a string cell: OOXML _xHHHH_ escapes decoded."""
    if v is None:
        return ""
    if not isinstance(v, str):
        return v
    return XESC.sub(lambda m: chr(int(m.group(0)[2:6], 16)), v)


def sanitize(s):
    """The report's documented cell rule, re-implemented from the spec."""
    s = ILLEGAL.sub("\ufffd", s)
    units = cps = 0
    out = []
    i = 0
    while i < len(s):
        ch = s[i]
        du = 2 if ord(ch) >= 0x10000 else 1
        dc = 7 if (ch == "_" and XESC.match(s, i)) else 1
        if units + du > CELL_MAX or cps + dc > CELL_MAX:
            break
        units += du
        cps += dc
        out.append(ch)
        i += 1
    return "".join(out)


def read_input(path, nrows):
    raw = open(path, "rb").read()
    text = raw.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while nrows is None or len(rows) < nrows + 1:
        try:
            r = next(reader)
        except StopIteration:
            break
        if r != []:
            rows.append(r)
    head = [h.strip(" \t").lower() for h in rows[0]]
    idx = [head.index(c) if k < NREQUIRED or c in head else None for k, c in enumerate(COLUMNS)]
    data = rows[1:]
    if nrows is not None:
        data = data[:nrows]
    return [[sanitize(r[i]) if i is not None else "" for i in idx] for r in data]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xlsx", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--input", action="append", default=[])
    ap.add_argument("--escape", type=int, default=1)
    ap.add_argument("--bom", type=int, default=0)
    ap.add_argument("--truthy", default="yes,true,1,y")
    ap.add_argument("--failed", action="append", default=[])
    ap.add_argument("--expect-partial", action="store_true")
    ap.add_argument("--expect-problem", action="append", default=[])
    ap.add_argument("--expect-rows", type=int)
    ap.add_argument("--expect-warm", type=int)
    a = ap.parse_args()
    truthy = {t.strip().lower() for t in a.truthy.split(",")}

    # 1. No formulas anywhere: raw XML and openpyxl's view.
    with zipfile.ZipFile(a.xlsx) as z:
        for n in z.namelist():
            if n.startswith("xl/worksheets/") and n.endswith(".xml"):
                if re.search(rb"<f[ >/]", z.read(n)):
                    fail(f"{n}: contains a formula element")
    wb = openpyxl.load_workbook(a.xlsx)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    fail(f"{ws.title}!{c.coordinate}: formula cell {c.value!r}")

    names = wb.sheetnames
    want_sheets = ["Summary", "Leads", "Warm leads", "Failed", "Run"]
    if names[:5] != want_sheets:
        fail(f"sheet order {names}")
    has_problems = "Problems" in names
    if bool(a.expect_partial or a.expect_problem) != has_problems:
        fail(f"Problems sheet present={has_problems}, expected={bool(a.expect_partial or a.expect_problem)}")

    # 1b. On paper: the Summary fits one page wide, the lead sheets repeat their header row.
    summary = wb["Summary"]
    if not summary.sheet_properties.pageSetUpPr or not summary.sheet_properties.pageSetUpPr.fitToPage:
        fail("Summary is not set to fit to page")
    # fitToWidth 1 is the OOXML default, which libxlsxwriter leaves out (openpyxl reads None).
    if summary.page_setup.fitToWidth not in (None, 1, "1") or summary.page_setup.fitToHeight not in (0, "0"):
        fail(f"Summary fits {summary.page_setup.fitToWidth} wide x {summary.page_setup.fitToHeight} tall, "
             "expected 1 wide x any tall")
    for title in ("Leads", "Warm leads", "Failed", "Run"):
        ws = wb[title]
        if (ws.print_title_rows or "").replace("$", "") != "1:1":
            fail(f"{title} does not repeat its header row when printed (print_title_rows {ws.print_title_rows!r})")
        if ws.page_setup.orientation != "landscape":
            fail(f"{title} prints {ws.page_setup.orientation}, expected landscape")

    # 2. Leads sheet, as Excel shows it.
    leads = wb["Leads"]
    if leads.freeze_panes != "A2":
        fail(f"Leads freeze_panes {leads.freeze_panes}")
    rows = list(leads.iter_rows(values_only=True))
    if [excel_text(v) for v in rows[0]] != COLUMNS:
        fail(f"Leads header {rows[0]}")
    for r_i, row in enumerate(rows[1:], start=2):
        for v in row:
            if v is not None and not isinstance(v, str):
                fail(f"Leads row {r_i}: non-string cell {v!r}")
    lead_rows = [[excel_text(v) for v in r] + [""] * (NCOLS - len(r)) for r in rows[1:]]
    if lead_rows and not leads.auto_filter.ref:
        fail("Leads has no autofilter")

    # 3. Master CSV: same cells, plus the formula prefix.
    with open(a.csv, "rb") as f:
        raw = f.read()
    has_bom = raw.startswith(b"\xef\xbb\xbf")
    if a.bom and not has_bom:
        fail("master CSV has no UTF-8 BOM although [report] csv_bom is on")
    if not a.bom and has_bom:
        fail("master CSV starts with a UTF-8 BOM although [report] csv_bom is off")
    crows = list(csv.reader(io.StringIO(raw[3 if has_bom else 0:].decode("utf-8"), newline=""), strict=True))
    if crows[0] != COLUMNS:
        fail(f"CSV header {crows[0]}")
    crows = crows[1:]
    if len(crows) != len(lead_rows):
        fail(f"CSV has {len(crows)} rows, Leads {len(lead_rows)}")

    def csv_form(v):
        if a.escape and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + v
        return v

    for i, (lr, cr) in enumerate(zip(lead_rows, crows), start=2):
        want = [csv_form(v) for v in lr]
        if want != cr:
            fail(f"row {i}: Leads {lr!r} vs CSV {cr!r}")
            if len(errors) > 20:
                break

    # 4. Inputs == Leads.
    if a.input:
        expected = []
        for spec in a.input:
            m = re.match(r"^(.*?)(?::(\d+))?$", spec)
            expected += read_input(m.group(1), int(m.group(2)) if m.group(2) else None)
        if len(expected) != len(lead_rows):
            fail(f"inputs have {len(expected)} rows, Leads {len(lead_rows)}")
        for i, (e, l) in enumerate(zip(expected, lead_rows), start=2):
            if e != l:
                diff = [(COLUMNS[k], e[k], l[k]) for k in range(NCOLS) if e[k] != l[k]]
                fail(f"Leads row {i} differs from input: {diff!r}"[:600])
                if len(errors) > 40:
                    break

    # 5. Warm leads.
    # The lead columns, then "audit" (ralphsup audit's result, or "not audited").
    wrows = list(wb["Warm leads"].iter_rows(values_only=True))
    if wrows and [excel_text(v) for v in wrows[0]] != COLUMNS + ["audit"]:
        fail(f"Warm leads header {wrows[0]}")
    for r_i, r in enumerate(wrows[1:], start=2):
        if len(r) <= len(COLUMNS) or not r[len(COLUMNS)]:
            fail(f"Warm leads row {r_i}: no audit result")
    warm = [([excel_text(v) for v in r] + [""] * (NCOLS - len(r)))[:NCOLS] for r in wrows[1:]]
    want_warm = [r for r in lead_rows if r[6].strip(" \t").lower() in truthy]
    if warm != want_warm:
        fail(f"Warm leads: {len(warm)} rows, expected {len(want_warm)}")

    # 6. Failed sheet.
    failed = [r[0] for r in list(wb["Failed"].iter_rows(values_only=True))[1:]]
    if a.failed and failed != a.failed:
        fail(f"Failed sheet names {failed!r}, expected {a.failed!r}")
    for r in list(wb["Failed"].iter_rows(values_only=True))[1:]:
        if not r[1]:
            fail(f"Failed row without reason: {r!r}")

    # 7. Problems.
    if has_problems:
        text = "\n".join(" | ".join("" if v is None else str(v) for v in r)
                         for r in wb["Problems"].iter_rows(values_only=True))
        for p in a.expect_problem:
            if p not in text:
                fail(f"Problems sheet lacks {p!r}:\n{text}")

    # 8. Summary figures agree with the sheets.
    summ = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    if summ.get("Coaches researched (lead rows)") != len(crows):
        fail(f"Summary coaches {summ.get('Coaches researched (lead rows)')} != {len(crows)}")
    if summ.get("NMDP overlaps (warm leads)") != len(want_warm):
        fail(f"Summary overlaps {summ.get('NMDP overlaps (warm leads)')} != {len(want_warm)}")
    verified = sum(1 for r in wrows[1:] if len(r) > len(COLUMNS) and r[len(COLUMNS)] == "verified")
    sv = summ.get("Warm leads verified (ralphsup audit)")
    if not (sv == verified or (verified == 0 and str(sv).startswith("not audited"))):
        fail(f"Summary verified {sv!r} != {verified} verified rows on Warm leads")
    if a.expect_rows is not None and (len(crows) != a.expect_rows or len(lead_rows) != a.expect_rows):
        fail(f"{len(lead_rows)} Leads rows and {len(crows)} CSV rows, expected {a.expect_rows}")
    if a.expect_warm is not None and len(warm) != a.expect_warm:
        fail(f"{len(warm)} Warm leads rows, expected {a.expect_warm}")
    status = summ.get("Report status", "")
    if a.expect_partial != str(status).startswith("partial"):
        fail(f"Summary status {status!r}")

    if errors:
        print("check_xlsx: FAILED")
        for e in errors:
            print("  " + e)
        return 1
    print(f"check_xlsx: OK ({len(lead_rows)} lead rows, {len(warm)} warm, sheets {names})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
