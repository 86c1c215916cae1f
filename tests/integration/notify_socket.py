#!/usr/bin/env python3
# A stand-in for systemd's notification socket (sd_notify(3)): binds an
# AF_UNIX datagram socket at PATH (or, for "@name", in the abstract
# namespace) and appends one JSON line per datagram received to LOG:
# {"t": <monotonic seconds>, "msg": "<datagram text>"}. Runs until killed
# or --max-seconds. Used by tests/integration/service.sh.
import argparse, json, os, socket, time

ap = argparse.ArgumentParser()
ap.add_argument("--socket", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--max-seconds", type=float, default=120)
a = ap.parse_args()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = "\0" + a.socket[1:] if a.socket.startswith("@") else a.socket
s.bind(addr)
s.settimeout(0.2)
open(a.log + ".ready", "w").close()
end = time.monotonic() + a.max_seconds
with open(a.log, "a", buffering=1) as out:
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        out.write(json.dumps({"t": time.monotonic(), "msg": data.decode("utf-8", "replace")}) + "\n")
