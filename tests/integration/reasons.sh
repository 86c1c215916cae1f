#!/bin/bash
# Outside text that is long or not UTF-8 is stored, cut at a character
# boundary, never dropped (issue 9): RALPH_FAILED reasons of 600 bytes, 5,000
# bytes and 100 KB of non-ASCII text, a reason holding bytes that are not
# UTF-8, and an agent whose stderr is not UTF-8. Every failed school keeps a
# non-empty reason and every attempt its own, each run has its
# iteration-finished event, and Python's strict UTF-8 JSON reader accepts the
# progress file and every line of logs/events.jsonl. The cap (1,024 bytes for
# a stored reason, "…" included) is docs/progress.md's.
source "$(dirname "$0")/lib.sh"

CAP=1024
# strict_json FILE: the file is UTF-8 and JSON (python's json.load, strict decoding)
strict_json() { "$PY" -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))' "$1" 2>&1; }
# strict_jsonl FILE: every line is UTF-8 and JSON
strict_jsonl() {
    "$PY" -c '
import json, sys
for i, line in enumerate(open(sys.argv[1], "rb"), 1):
    try:
        json.loads(line.decode("utf-8", "strict"))
    except Exception as e:
        print("line %d: %s" % (i, e)); sys.exit(1)' "$1" 2>&1
}
utf8_ok() { printf '%s' "$1" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; }

A=$(new_tmp)
make_batch "$A" "Long600 University" "Long5000 University" "Long100k University" "Invalid Reason University" \
    "Stderr University"
plan "$A" '{
  "Long600 University": {"default": "failed_long_reason_600"},
  "Long5000 University": {"default": "failed_long_reason_5000"},
  "Long100k University": {"default": "failed_long_reason_102400"},
  "Invalid Reason University": {"default": "failed_invalid_reason"},
  "Stderr University": {"default": "stderr_invalid"}
}'
PA="$A/batch_progress.json"
EA="$A/logs/events.jsonl"
rs start "$A/config/batch.toml"
assert_eq "$RS_RC" 0 "start exits 0: every school failed with a reason"
[ "$RS_RC" = 0 ] || diag "$(printf '%s' "$RS_OUT" | tail -c 3000)"
out=$(strict_json "$PA")
check "the progress file is strict UTF-8 JSON" test -z "$out" -a -s "$PA"
[ -z "$out" ] || diag "$out"
out=$(strict_jsonl "$EA")
check "every line of logs/events.jsonl is strict UTF-8 JSON" test -z "$out" -a -s "$EA"
[ -z "$out" ] || diag "$out"
check "start's terminal output is valid UTF-8" utf8_ok "$RS_OUT"

# The reason every school and every attempt carries, checked in Python on the parsed file.
# F(n): the failed entry; A(n): its attempts' reasons; B(s): UTF-8 bytes of s.
reasons() {
    assert_file_json "$PA" "(lambda F, B: bool(F) and (F[0].get('reason') or '') != '' and len(F[0]['attempts']) == $2 and all(a.get('reason') for a in F[0]['attempts']) and (lambda r, A: $3)(F[0]['reason'], [a['reason'] for a in F[0]['attempts']]))([x for x in d['failed'] if x['name'] == '$1'], lambda s: len(s.encode('utf-8')))" "$4"
}
E600="$("$PY" -c 'print("é" * 294 + " ünïcödé")')"
reasons "Long600 University" 1 "'$E600' in r and all('$E600' in a for a in A)" \
    "600-byte reason: the failed entry and its attempt keep it whole"
reasons "Long5000 University" 1 \
    "r.endswith('…') and B(r) <= $CAP and 'é' * 400 in r and 'ünïcödé' not in r and all(a.endswith('…') and B(a) <= $CAP for a in A)" \
    "5,000-byte reason: kept, cut at a character boundary with '…' (at most $CAP bytes)"
# A marker line over 65,536 bytes is an invalid marker (docs/protocol.md), retried; its beginning is kept.
reasons "Long100k University" 3 \
    "r.endswith('…') and B(r) <= $CAP and 'longer than 65536 bytes' in r and 'é' * 400 in r and all(a.endswith('…') and B(a) <= $CAP and 'é' * 400 in a for a in A)" \
    "100 KB reason: each attempt keeps its beginning, cut at a character boundary with '…' (at most $CAP bytes)"
reasons "Invalid Reason University" 1 \
    "'bad bytes \ufffd here, cut \ufffd there, overlong \ufffd\ufffd end' in r and all('\ufffd here' in a for a in A)" \
    "a reason with bytes that are not UTF-8: kept, each bad sequence is U+FFFD"
reasons "Stderr University" 3 \
    "'status 3' in r and 'caf\ufffd \ufffd\ufffd broken \ufffd' in r and all('caf\ufffd' in a for a in A)" \
    "stderr that is not UTF-8: its first line, with U+FFFD, is in the reason of each attempt"

runs=$(fake_log "$A" | wc -l)
n=$(events "$EA" 'e.get("event") == "iteration-finished"' | wc -l)
assert_eq "$n" "$runs" "every agent run has its iteration-finished event ($runs)"
for s in "Long600 University:1" "Long5000 University:1" "Long100k University:3" "Invalid Reason University:1" \
    "Stderr University:3"; do
    n=$(events "$EA" "e.get('event') == 'iteration-finished' and e.get('school') == '${s%:*}'" | wc -l)
    assert_eq "$n" "${s##*:}" "${s%:*}: each of its runs has its iteration-finished event in logs/events.jsonl"
done
assert_file_json "$PA" '"events_dropped" not in d' "no event was dropped (no events_dropped in the progress file)"
rs status "$A/config/batch.toml"
assert_not_contains "$RS_OUT" "events could not be written" "status does not report dropped events"
check "status output is valid UTF-8" utf8_ok "$RS_OUT"
subj=$(git -C "$A" log --format=%B)
check "commit messages are valid UTF-8" utf8_ok "$subj"
assert_contains "$subj" "ünïcödé" "the 600-byte reason reaches its commit message"

# ---- batch B: stderr that is not UTF-8 before the agent starts (fatal, 69) ----
B=$(new_tmp)
make_batch "$B" "Early University"
cat >"$B/.bin/claude" <<'SH'
#!/bin/bash
printf 'error: caf\xe9 \xff\xfe cannot start \xc3\n' >&2
exit 1
SH
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 69 "an agent that cannot start stops the batch with 69"
check "start's output is valid UTF-8" utf8_ok "$RS_OUT"
assert_contains "$RS_OUT" "caf�" "the stderr excerpt is shown with U+FFFD"
out=$(strict_json "$B/batch_progress.json")
check "batch B: the progress file is strict UTF-8 JSON" test -z "$out"
[ -z "$out" ] || diag "$out"
out=$(strict_jsonl "$B/logs/events.jsonl")
check "batch B: every events line is strict UTF-8 JSON" test -z "$out"
[ -z "$out" ] || diag "$out"
n=$(events "$B/logs/events.jsonl" 'e.get("event") == "iteration-finished"' | wc -l)
assert_eq "$n" 1 "batch B: the iteration-finished event is present"

# ---- batch C: events that cannot be written are counted and said, not lost silently ----
C=$(new_tmp)
make_batch "$C" "Full Disk University"
mkdir -p "$C/logs"
ln -s /dev/full "$C/logs/events.jsonl" # every write fails with ENOSPC
rs start "$C/config/batch.toml"
assert_eq "$RS_RC" 0 "batch C: the batch still runs to its end"
assert_contains "$RS_OUT" "cannot write an event to $C/logs/events.jsonl: No space left on device" \
    "batch C: start says on stderr that events could not be written"
n=$(printf '%s\n' "$RS_OUT" | grep -c "cannot write an event")
assert_eq "$n" 1 "batch C: said once, not once per event"
assert_file_json "$C/batch_progress.json" 'd.get("events_dropped", 0) >= 3 and d["status"] == "finished"' \
    "batch C: the progress file counts the events lost (events_dropped)"
rs status "$C/config/batch.toml"
assert_contains "$RS_OUT" "could not be written to" "batch C: status says events were lost"
rs status --json "$C/config/batch.toml"
assert_contains "$RS_OUT" '"events_dropped":' "batch C: status --json has events_dropped"
finish
