#!/bin/sh
# A [notify] command that mails the event through the local sendmail
# (docs/operations.md, "Notifications"):
#
#   [notify]
#   command = ["contrib/notify/mail.sh", "ops@example.org", "me@example.org"]
#
# Subject: the one-line RALPHSUP_MESSAGE; body: the same line and the
# event's JSON (stdin). Any MTA with a sendmail interface works (exim4,
# postfix, msmtp-mta, nullmailer); SENDMAIL overrides /usr/sbin/sendmail and
# RALPHSUP_MAIL_FROM sets From:. A sendmail that exits non-zero is logged as
# notify-failed and is never fatal.
set -eu
[ "$#" -ge 1 ] || { echo "usage: mail.sh ADDRESS..." >&2; exit 64; }
sendmail=${SENDMAIL:-/usr/sbin/sendmail}
[ -x "$sendmail" ] || { echo "mail.sh: $sendmail not found (install an MTA or set SENDMAIL)" >&2; exit 69; }
event_json=$(cat)
msg=${RALPHSUP_MESSAGE:-ralphsup ${RALPHSUP_BATCH:-}: ${RALPHSUP_EVENT:-event}}
# One line, no header injection: CR/LF in the subject become spaces.
subject=$(printf '%s' "$msg" | tr '\r\n' '  ' | cut -c1-200)
to=$(printf '%s, ' "$@")
{
    [ -n "${RALPHSUP_MAIL_FROM:-}" ] && printf 'From: %s\n' "$RALPHSUP_MAIL_FROM"
    printf 'To: %s\n' "${to%, }"
    printf 'Subject: %s\n' "$subject"
    printf 'Content-Type: text/plain; charset=utf-8\n'
    printf 'Auto-Submitted: auto-generated\n\n'
    printf '%s\n\n' "$msg"
    printf 'Event: %s\nBatch: %s\nSchool: %s\nConfig: %s\n\n' "${RALPHSUP_EVENT:-}" "${RALPHSUP_BATCH:-}" \
        "${RALPHSUP_SCHOOL:--}" "${RALPHSUP_CONFIG:-}"
    printf '%s\n' "$event_json"
} | "$sendmail" -oi -- "$@"
