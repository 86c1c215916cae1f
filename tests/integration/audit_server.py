#!/usr/bin/env python3
"""The evidence web for tests/integration/audit.sh: a plain http.server on
127.0.0.1 (a free port, written to --port-file) serving the fixture pages of
--dir under /pages/, plus generated cases:
  /missing      404
  /loop         302 to itself: a redirect loop
  /hop/N/PAGE   302 to /hop/N-1/PAGE ... /hop/0/PAGE redirects to /pages/PAGE
  /huge         a 50 MB page streamed in 64 KiB pieces, the quote only at its end
  /huge-top     the quote first, then 50 MB of filler
  /slow         headers, then nothing for 60 s
Each request is logged to --log as one JSON line {"t": monotonic, "path": ...}."""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HUGE = 50 * 1000 * 1000
QUOTE = b"<p>Coach Lee Huge hosted a Be The Match drive at the stadium.</p>"
FILLER = (b"<p>" + b"filler text about the season and the schedule. " * 20 + b"</p>\n")

args = None
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def log_req(self):
        with lock, open(args.log, "a") as f:
            f.write(json.dumps({"t": time.monotonic(), "path": self.path,
                                "host": self.headers.get("Host", "")}) + "\n")

    def send_page(self, code, body, ctype="text/html; charset=utf-8"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def stream(self, head, tail):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(head) + HUGE + len(tail)))
        self.end_headers()
        try:
            self.wfile.write(head)
            sent = 0
            while sent < HUGE:
                n = min(len(FILLER), HUGE - sent)
                self.wfile.write(FILLER[:n])
                sent += n
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            with lock, open(args.log, "a") as f:
                f.write(json.dumps({"t": time.monotonic(), "path": self.path, "aborted_after": sent}) + "\n")

    def do_GET(self):
        self.log_req()
        p = self.path
        if p.startswith("/pages/"):
            f = Path(args.dir) / p[len("/pages/"):]
            if f.is_file() and f.resolve().parent == Path(args.dir).resolve():
                ctype = "text/html" if "split" in f.name else "text/html; charset=utf-8"
                return self.send_page(200, f.read_bytes(), ctype)
            return self.send_page(404, b"<p>not here</p>")
        if p == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if p.startswith("/hop/"):
            n, page = p[5:].split("/", 1)
            n = int(n)
            self.send_response(302)
            self.send_header("Location", f"/pages/{page}" if n <= 0 else f"/hop/{n - 1}/{page}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if p == "/huge":
            return self.stream(b"<html><body>", QUOTE + b"</body></html>")
        if p == "/huge-top":
            return self.stream(b"<html><body>" + QUOTE, b"</body></html>")
        if p == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            time.sleep(60)
            return
        return self.send_page(404, b"<p>not found</p>")


def main():
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    Path(args.port_file + ".tmp").write_text(str(srv.server_address[1]))
    Path(args.port_file + ".tmp").rename(args.port_file)
    threading.Timer(args.max_seconds, lambda: srv.shutdown()).start()
    srv.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
