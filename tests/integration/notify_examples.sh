#!/bin/bash
# contrib/notify/: the webhook example (curl) against a webhook receiver on
# 127.0.0.1 (webhook_server.py; no outside network) in its three styles, a
# failing endpoint (non-zero exit, curl's error on stderr), and end to end as
# the [notify] command of a batch; the mail example through a stand-in
# sendmail that records its argv and message.
source "$(dirname "$0")/lib.sh"

N="$RALPHSUP_SOURCE_ROOT/contrib/notify"
D=$(new_tmp)
"$PY" "$RALPHSUP_SOURCE_ROOT/tests/integration/webhook_server.py" --port-file "$D/port" --log "$D/hook.jsonl" &
T_PIDS+=("$!")
wait_for 10 test -s "$D/port" || not_ok "the webhook receiver started"
URL="http://127.0.0.1:$(cat "$D/port")"
EV='{"ts":"2026-12-01T10:00:00.000Z","event":"school-failed","school":"Beta \"B\" University","reason":"no staff page"}'
export RALPHSUP_EVENT=school-failed RALPHSUP_BATCH=west RALPHSUP_SCHOOL='Beta "B" University'
export RALPHSUP_MESSAGE='ralphsup west: Beta "B" University failed: no staff page'
# last_post PYEXPR: evaluate PYEXPR on the last request (as r)
last_post() { "$PY" -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print(eval(sys.argv[2]))' "$D/hook.jsonl" "$1"; }

printf '%s' "$EV" | "$N/webhook.sh" --ntfy "$URL/ralphsup-topic"
assert_eq "$?" 0 "webhook.sh --ntfy: exit 0"
assert_eq "$(last_post 'r["body"]')" "$RALPHSUP_MESSAGE" "--ntfy: the message is the body"
assert_eq "$(last_post 'r["headers"]["title"] + "|" + r["headers"]["priority"] + "|" + r["path"]')" \
    "ralphsup west: school-failed|high|/ralphsup-topic" "--ntfy: Title, Priority (high for a failure) and the topic"

printf '%s' "$EV" | "$N/webhook.sh" --slack "$URL/services/T1/B2/x"
assert_eq "$(last_post 'json.loads(r["body"])["text"]')" "$RALPHSUP_MESSAGE" "--slack: {\"text\": message}, quotes escaped"

printf '%s' "$EV" | "$N/webhook.sh" --json "$URL/hook"
assert_eq "$(last_post 'json.loads(r["body"])["school"] + "|" + r["headers"]["content-type"]')" \
    'Beta "B" University|application/json' "--json: the event's JSON as it came on stdin"

err=$(printf '%s' "$EV" | "$N/webhook.sh" --json "$URL/fail/x" 2>&1 >/dev/null)
rc=$?
[ "$rc" != 0 ] && ok "a failing endpoint: non-zero exit ($rc)" || not_ok "a failing endpoint: non-zero exit"
assert_contains "$err" "500" "… and curl says why on stderr"
"$N/webhook.sh" --bogus "$URL" </dev/null 2>/dev/null
assert_eq "$?" 64 "a bad style: usage, exit 64"

# mail.sh with a stand-in sendmail
cat >"$D/sendmail" <<EOS
#!/bin/sh
printf '%s\n' "\$*" >"$D/mail.args"
cat >"$D/mail.txt"
EOS
chmod +x "$D/sendmail"
printf '%s' "$EV" | SENDMAIL="$D/sendmail" RALPHSUP_MAIL_FROM=ralphsup@example.org "$N/mail.sh" ops@example.org me@example.org
assert_eq "$?" 0 "mail.sh: exit 0"
assert_eq "$(cat "$D/mail.args")" "-oi -- ops@example.org me@example.org" "mail.sh: the recipients on sendmail's command line"
m=$(cat "$D/mail.txt")
assert_contains "$m" "Subject: $RALPHSUP_MESSAGE" "mail.sh: the message is the subject"
assert_contains "$m" "To: ops@example.org, me@example.org" "mail.sh: To:"
assert_contains "$m" "$EV" "mail.sh: the event's JSON in the body"
RALPHSUP_MESSAGE=$'two\nlines' SENDMAIL="$D/sendmail" "$N/mail.sh" a@example.org </dev/null
assert_contains "$(cat "$D/mail.txt")" "Subject: two lines" "mail.sh: no header injection through a newline"
SENDMAIL="$D/none" "$N/mail.sh" a@example.org </dev/null 2>/dev/null
assert_eq "$?" 69 "mail.sh without sendmail: exit 69"
unset RALPHSUP_EVENT RALPHSUP_BATCH RALPHSUP_SCHOOL RALPHSUP_MESSAGE

# End to end: the batch's [notify] command is the webhook example (a path relative to [batch] root).
B=$(new_tmp)
make_batch "$B" "Alpha University"
mkdir -p "$B/contrib/notify" && cp "$N/webhook.sh" "$B/contrib/notify/"
cat >>"$B/config/batch.toml" <<EOF

[notify]
command = ["contrib/notify/webhook.sh", "--json", "$URL/e2e"]
events = ["batch-finished"]
EOF
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "a batch with the webhook as [notify] command finishes"
assert_eq "$(last_post 'r["path"] + "|" + json.loads(r["body"])["event"] + "|" + str(json.loads(r["body"])["completed"])')" \
    "/e2e|batch-finished|1" "the receiver got batch-finished (1 completed) from ralphsup"
assert_eq "$(events "$B/logs/events.jsonl" 'e["event"] == "notify-sent" and e["for"] == "batch-finished"' | wc -l)" 1 \
    "notify-sent is logged"
finish
