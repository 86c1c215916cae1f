#!/bin/bash
# contrib/systemd/ralphsup@.service: `systemd-analyze verify` (systemd 252,
# offline: it loads the unit into a private manager, no PID 1 systemd
# needed) reports nothing on it — neither an error (exit status) nor a
# warning (verify prints those and still exits 0, so its output must be
# empty). The one change made for the check: ExecStart names the binary just
# built instead of /usr/local/bin/ralphsup (verify insists the executable
# exists). Two broken copies show the check can fail. Also the settings the
# issue asks for, and that the exit codes named in RestartPreventExitStatus
# are those of docs/cli.md.
source "$(dirname "$0")/lib.sh"

UNIT="$RALPHSUP_SOURCE_ROOT/contrib/systemd/ralphsup@.service"
command -v systemd-analyze >/dev/null || { not_ok "systemd-analyze is installed (Debian package systemd)"; finish; }
D=$(new_tmp)
# verify_unit NAME FILE: verify FILE as the instance NAME@west.service; output in V_OUT, status in V_RC
verify_unit() {
    cp "$2" "$D/$1@.service"
    ln -sf "$1@.service" "$D/$1@west.service"
    V_RC=0
    V_OUT=$(cd "$D" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "./$1@west.service" 2>&1) || V_RC=$?
}
BIN=$(readlink -f "$RALPHSUP")
sed "s#/usr/local/bin/ralphsup#$BIN#" "$UNIT" >"$D/unit"
verify_unit ralphsup "$D/unit"
assert_eq "$V_RC" 0 "systemd-analyze verify: exit status 0"
assert_eq "$V_OUT" "" "systemd-analyze verify: no warning"
sed 's/^Type=notify$/Type=notifyy/' "$D/unit" >"$D/bad1"
verify_unit bad1 "$D/bad1"
assert_contains "$V_OUT" "Failed to parse service type" "a misspelt value is reported (the check can fail)"
sed "s#^ExecStart=$BIN#ExecStart=$D/missing#" "$D/unit" >"$D/bad2"
verify_unit bad2 "$D/bad2"
[ "$V_RC" != 0 ] && ok "a missing ExecStart binary fails verify (exit $V_RC)" || not_ok "a missing ExecStart binary fails verify"

u=$(grep -v '^#' "$UNIT")
for want in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'KillMode=mixed' 'Restart=on-failure' \
    'NotifyAccess=main' 'SuccessExitStatus=130 143'; do
    assert_contains "$u" "$want" "the unit sets $want"
done
# TimeoutStopSec covers the default kill_grace (10 s) + pipe_drain_timeout (5 s) + the notify timeout (30 s).
t=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$UNIT")
assert_le 45 "${t:-0}" "TimeoutStopSec (${t}s) covers kill_grace + pipe_drain_timeout + [notify] timeout"
prevent=" $(sed -n 's/^RestartPreventExitStatus=//p' "$UNIT") "
cli="$RALPHSUP_SOURCE_ROOT/docs/cli.md"
for code in 3 65 66 77 78; do
    assert_contains "$prevent" " $code " "no restart after exit $code"
    grep -q "| *\`\?$code\`\? *|" "$cli" && ok "exit $code is documented in docs/cli.md" || not_ok "exit $code is documented in docs/cli.md"
done
assert_not_contains "$prevent" " 75 " "a transient stop (75) is restarted"
finish
