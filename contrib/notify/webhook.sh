#!/bin/sh
# A [notify] command that posts the event to a webhook with curl
# (docs/operations.md, "Notifications"):
#
#   [notify]
#   command = ["contrib/notify/webhook.sh", "--ntfy", "https://ntfy.sh/my-batch-topic"]
#   command = ["contrib/notify/webhook.sh", "--slack", "https://hooks.slack.com/services/T…/B…/…"]
#   command = ["contrib/notify/webhook.sh", "--json", "https://example.org/ralphsup-hook"]
#
#   --ntfy    ntfy.sh style: the one-line RALPHSUP_MESSAGE as a text/plain body, with
#             Title, Tags and Priority headers (high for a stopped batch or a failure)
#   --slack   Slack / Mattermost / Rocket.Chat incoming webhook: {"text": RALPHSUP_MESSAGE}
#   --json    the event's JSON itself (what ralphsup passes on stdin)
#
# ralphsup runs it with the event's JSON on stdin and RALPHSUP_EVENT,
# RALPHSUP_BATCH, RALPHSUP_SCHOOL, RALPHSUP_MESSAGE, … in the environment,
# and kills it after [notify] timeout. A non-zero exit is logged as
# notify-failed with the first line of stderr (curl's error) and is never
# fatal. Needs curl only; a URL holding a token is a secret: keep the config
# file private, or pass the URL in RALPHSUP_WEBHOOK_URL instead of argv.
set -eu
style=${1:-}
url=${2:-${RALPHSUP_WEBHOOK_URL:-}}
case "$style" in
--ntfy | --slack | --json) ;;
*) echo "usage: webhook.sh --ntfy|--slack|--json URL (or RALPHSUP_WEBHOOK_URL)" >&2; exit 64 ;;
esac
[ -n "$url" ] || { echo "webhook.sh: no URL (argument or RALPHSUP_WEBHOOK_URL)" >&2; exit 64; }
event_json=$(cat)
msg=${RALPHSUP_MESSAGE:-ralphsup ${RALPHSUP_BATCH:-}: ${RALPHSUP_EVENT:-event}}

# JSON string of $1 (quotes, backslashes and control characters escaped).
json_str() {
    printf '%s' "$1" | awk 'BEGIN { ORS = ""; print "\"" }
        { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r"); if (NR > 1) print "\\n"; print }
        END { print "\"" }'
}

case "${RALPHSUP_EVENT:-}" in
batch-stopped | school-failed | stalled-killed) prio=high tag=warning ;;
budget-crossed | batch-paused) prio=default tag=hourglass ;;
*) prio=default tag=white_check_mark ;;
esac

curl_post() { curl -sS --fail --max-time 20 --retry 2 --retry-delay 1 -o /dev/null "$@" "$url"; }
case "$style" in
--ntfy)
    printf '%s' "$msg" | curl_post -H "Title: ralphsup ${RALPHSUP_BATCH:-}: ${RALPHSUP_EVENT:-}" \
        -H "Tags: $tag" -H "Priority: $prio" -H "Content-Type: text/plain; charset=utf-8" --data-binary @-
    ;;
--slack)
    printf '{"text": %s}' "$(json_str "$msg")" | curl_post -H "Content-Type: application/json" --data-binary @-
    ;;
--json)
    printf '%s' "$event_json" | curl_post -H "Content-Type: application/json" --data-binary @-
    ;;
esac
