#!/bin/bash
# Output nobody reads any more is not a crash: with stdout a pipe whose
# reader has gone (`ralphsup status CONFIG | head -1`), ralphsup is not killed
# by SIGPIPE (main.c ignores it) and exits with the status of the command,
# saying nothing; output that cannot be written for another reason (a full
# disk) is an error: a message and exit 74 (docs/cli.md, "Output").
source "$(dirname "$0")/lib.sh"

# closed_pipe ARGS...: run ralphsup with stdout a pipe whose read end is
# already closed (every write is EPIPE, deterministically); prints
# "rc=N" (or "signal=N") and the stderr.
closed_pipe() {
    python3 - "$RALPHSUP" "$@" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE)
os.close(w)
print("signal=%d" % -p.returncode if p.returncode < 0 else "rc=%d" % p.returncode)
sys.stdout.write(p.stderr.decode("utf-8", "replace"))
PY
}

out=$(closed_pipe --help)
assert_eq "$(head -1 <<<"$out")" "rc=0" "--help into a closed pipe: exit 0, not death by SIGPIPE"
assert_eq "$(tail -n +2 <<<"$out")" "" "--help into a closed pipe: nothing on stderr"

A=$(new_tmp)
schools=()
for i in $(seq 1 3); do schools+=("School Number $i"); done
make_batch "$A" "${schools[@]}"
C="$A/config/batch.toml"
rs init "$C"
assert_eq "$RS_RC" 0 "init"
rs status "$C"
assert_eq "$RS_RC" 0 "status"

out=$(closed_pipe status "$C")
assert_eq "$(head -1 <<<"$out")" "rc=0" "status into a closed pipe: exit 0"
assert_not_contains "$out" "cannot write" "status into a closed pipe: no write error is reported"
out=$(closed_pipe status "$C" --json)
assert_eq "$(head -1 <<<"$out")" "rc=0" "status --json into a closed pipe: exit 0"

# A real pipeline: the reader takes one byte and leaves (whether ralphsup
# still writes then is a race; either way it exits 0 and says nothing).
first=$("$RALPHSUP" status "$C" --json 2>"$A/err" | head -c1; echo "rc=${PIPESTATUS[0]}")
assert_eq "$first" "{rc=0" "status --json | head -c1: the reader got its byte, ralphsup exits 0"
assert_eq "$(cat "$A/err")" "" "status --json | head -c1: nothing on stderr"

# A write that fails for another reason is an error.
rc=0
err=$("$RALPHSUP" --help 2>&1 >/dev/full) || rc=$?
assert_eq "$rc" 74 "--help into /dev/full: exit 74"
assert_contains "$err" "ralphsup: cannot write the output: No space left on device" "--help into /dev/full: said"
rc=0
err=$("$RALPHSUP" status "$C" 2>&1 >/dev/full) || rc=$?
assert_eq "$rc" 74 "status into /dev/full: exit 74"

finish
