#!/usr/bin/env python3
# A webhook receiver on 127.0.0.1 for tests/integration/notify_examples.sh:
# every POST is appended to LOG as one JSON line {"path", "headers", "body"}
# and answered 200, except under /fail/ (500, "server error"). Writes its
# port to --port-file; runs until killed or --max-seconds.
import argparse, json, threading
from http.server import BaseHTTPRequestHandler, HTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--max-seconds", type=float, default=120)
a = ap.parse_args()

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(a.log, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body}) + "\n")
        code = 500 if self.path.startswith("/fail/") else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"no")
    def log_message(self, *args):
        pass

srv = HTTPServer(("127.0.0.1", 0), H)
with open(a.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(a.port_file + ".tmp", a.port_file)
threading.Timer(a.max_seconds, srv.shutdown).start()
srv.serve_forever()
