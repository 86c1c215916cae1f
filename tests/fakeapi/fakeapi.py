#!/usr/bin/env python3
"""fakeapi: a scripted Anthropic Messages API on the loopback interface.

The e2e tests and the no-key demo point the real Claude Code CLI at this
server (ANTHROPIC_BASE_URL=http://127.0.0.1:PORT).  A scenario file (JSON)
says what to answer: routes are chosen by a regular expression on the text
of the first user message (the rendered prompt), variables are extracted from
that text and substituted as ${name} into the replies, and the reply inside a
conversation is picked by the turn index (the number of assistant messages
already in the request).  Each turn is a list of steps (a message, an HTTP
error, a hang, a cut stream, ...) with "times" counters, so "429 twice, then
OK" is three requests to the same turn.  docs/fakeapi.md is the reference.

What it deliberately does not do: it never talks to anything but the client
that connected to it, never looks at the API key's value, does not check the
request against the real API schema, and does not count tokens (usage numbers
come from the scenario, so the CLI's total_cost_usd is predictable).

Python 3 standard library only; runs on Debian's /usr/bin/python3 (3.11).
"""

import argparse
import copy
import hashlib
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024 * 1024          # the CLI can send 11 MB+ requests (big tool results)
KINDS = ("message", "error", "hang", "hang_after_headers", "cut", "close", "sse_error")
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 503: "api_error", 529: "overloaded_error",
}
STEP_KEYS = {"kind", "times", "delay", "headers", "content", "text", "usage", "stop_reason", "model",
             "event_delay", "chunk_chars", "after_events", "reset", "status", "type", "message", "comment",
             "delta_usage"}
USAGE_KEYS = {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
              "cache_creation"}
CACHE_CREATION_KEYS = {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}
DELTA_USAGE = ("output", "full")
DEFAULT_USAGE = {"input_tokens": 1000, "output_tokens": 50,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
REMINDER_RE = re.compile(r"<system-reminder>.*?</system-reminder>\s*", re.S)
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:([+-])(\d+))?(?::(json))?\}")


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message says where."""


# --------------------------------------------------------------------------
# Scenario loading and validation

def _as_steps(turn, where):
    """A turn is one step object or a non-empty list of step objects."""
    steps = turn if isinstance(turn, list) else [turn]
    if not steps:
        raise ScenarioError("%s: a turn needs at least one step" % where)
    out = []
    for i, step in enumerate(steps):
        w = "%s step %d" % (where, i)
        if not isinstance(step, dict):
            raise ScenarioError("%s: a step must be an object" % w)
        kind = step.get("kind", "message")
        if kind not in KINDS:
            raise ScenarioError("%s: unknown kind %r (one of %s)" % (w, kind, ", ".join(KINDS)))
        unknown = set(step) - STEP_KEYS
        if unknown:
            raise ScenarioError("%s: unknown key(s) %s" % (w, ", ".join(sorted(unknown))))
        times = step.get("times", 1)
        if not isinstance(times, int) or times < 1:
            raise ScenarioError("%s: times must be a positive integer" % w)
        if kind in ("message", "cut", "hang_after_headers", "sse_error"):
            blocks = _blocks_of(step)
            for b in blocks:
                if not isinstance(b, dict) or b.get("type") not in ("text", "tool_use", "thinking"):
                    raise ScenarioError("%s: content blocks are text, tool_use or thinking" % w)
                if b["type"] == "tool_use" and not isinstance(b.get("name"), str):
                    raise ScenarioError("%s: a tool_use block needs a name" % w)
        _check_usage(step.get("usage", {}), w)
        if step.get("delta_usage", "output") not in DELTA_USAGE:
            raise ScenarioError("%s: delta_usage must be one of %s" % (w, ", ".join(DELTA_USAGE)))
        if kind == "error":
            status = step.get("status", 500)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ScenarioError("%s: error status must be 400..599" % w)
        s = dict(step)
        s["kind"] = kind
        out.append(s)
    return out


def _check_usage(u, where):
    """Usage numbers are non-negative integers; cache_creation holds the 5m/1h split."""
    if not isinstance(u, dict):
        raise ScenarioError("%s: usage must be an object" % where)
    unknown = set(u) - USAGE_KEYS
    if unknown:
        raise ScenarioError("%s: unknown usage key(s) %s" % (where, ", ".join(sorted(unknown))))
    for k, v in u.items():
        if k == "cache_creation":
            if not isinstance(v, dict) or set(v) - CACHE_CREATION_KEYS:
                raise ScenarioError("%s: usage.cache_creation takes %s" %
                                    (where, ", ".join(sorted(CACHE_CREATION_KEYS))))
            vals = v.values()
        else:
            vals = [v]
        for n in vals:
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ScenarioError("%s: usage.%s must be a non-negative integer" % (where, k))


def _blocks_of(step):
    """Content blocks of a message-like step ("text" is a shorthand for one text block)."""
    if "content" in step:
        return step["content"]
    if "text" in step:
        return [{"type": "text", "text": step["text"]}]
    return []


def _compile(regex, where):
    try:
        return re.compile(regex, re.M)
    except re.error as e:
        raise ScenarioError("%s: bad regex %r: %s" % (where, regex, e))


# The deadline line (changes with the clock) and any line naming the iteration's work directory
# (ralphsup's {{output_csv}} is .ralphsup/work/<NNNN>-<slug>/<slug>.csv: a new iteration number on resume).
DEFAULT_COUNTER_IGNORE = r"^[-*> \t]*Deadline \(UTC\):.*$|^.*\.ralphsup/work/.*$"


def load_scenario(path):
    """Read and check a scenario file; returns a dict with compiled regexes."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise ScenarioError("%s: %s" % (path, e))
    if not isinstance(raw, dict):
        raise ScenarioError("%s: top level must be an object" % path)
    sc = {"name": raw.get("name", os.path.basename(path)),
          "defaults": raw.get("defaults", {}), "vars": raw.get("vars", {}),
          "extract": {}, "routes": [], "attempt_var": raw.get("attempt_var", "attempt"),
          # Lines left out of the prompt text that keys the step counters: the ones that change
          # with the clock (ralphsup's {{deadline}}), so "the same prompt" is the same school and attempt.
          "counter_ignore": _compile(raw.get("counter_ignore", DEFAULT_COUNTER_IGNORE), "counter_ignore")}
    for k, rx in raw.get("extract", {}).items():
        sc["extract"][k] = _compile(rx, "extract.%s" % k)
    _check_vars(sc["vars"], "vars")
    if not isinstance(sc["defaults"], dict):
        raise ScenarioError("defaults must be an object")
    _check_usage(sc["defaults"].get("usage", {}), "defaults")
    if sc["defaults"].get("delta_usage", "output") not in DELTA_USAGE:
        raise ScenarioError("defaults: delta_usage must be one of %s" % ", ".join(DELTA_USAGE))
    routes = raw.get("routes", [])
    if not isinstance(routes, list):
        raise ScenarioError("routes must be a list")
    seen = set()
    for i, r in enumerate(routes):
        where = "route %d" % i
        if not isinstance(r, dict):
            raise ScenarioError("%s: must be an object" % where)
        name = r.get("name", "route%d" % i)
        if name in seen:
            raise ScenarioError("%s: duplicate route name %r" % (where, name))
        seen.add(name)
        where = "route %r" % name
        route = {"name": name, "extract": {}, "branches": {}, "vars": r.get("vars", {})}
        if "match" in r:
            route["match"] = _compile(r["match"], where + " match")
        elif "contains" in r:
            route["match"] = re.compile(re.escape(r["contains"]))
        else:
            route["match"] = None          # matches everything: put it last
        for k, rx in r.get("extract", {}).items():
            route["extract"][k] = _compile(rx, "%s extract.%s" % (where, k))
        _check_vars(route["vars"], where + " vars")
        if "attempts" in r:
            if not isinstance(r["attempts"], dict) or not r["attempts"]:
                raise ScenarioError("%s: attempts must be a non-empty object" % where)
            for key, turns in r["attempts"].items():
                route["branches"][str(key)] = _turns(turns, "%s attempt %s" % (where, key))
        if "turns" in r:
            route["branches"].setdefault("default", _turns(r["turns"], where))
        if not route["branches"]:
            raise ScenarioError("%s: needs turns or attempts" % where)
        sc["routes"].append(route)
    return sc


def _check_vars(v, where):
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise ScenarioError("%s: must map names to strings" % where)


def _turns(turns, where):
    if not isinstance(turns, list) or not turns:
        raise ScenarioError("%s: turns must be a non-empty list" % where)
    return [_as_steps(t, "%s turn %d" % (where, i)) for i, t in enumerate(turns)]


# --------------------------------------------------------------------------
# Request analysis

def _text_of(content):
    """All text of a message's content (string or block list), tool results included,
    without the CLI's <system-reminder> sections (they can quote CLAUDE.md and the like)."""
    return REMINDER_RE.sub("", _raw_text_of(content)).strip()


def _raw_text_of(content):
    if isinstance(content, str):
        return content
    parts = []
    if isinstance(content, list):
        for b in content:
            if not isinstance(b, dict):
                continue
            if b.get("type") == "text":
                parts.append(str(b.get("text", "")))
            elif b.get("type") == "tool_result":
                parts.append("[tool_result] " + _raw_text_of(b.get("content", "")))
    return "\n".join(parts)


def analyse(body):
    """(first user text, last user text, turn index) of a Messages request body."""
    msgs = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(msgs, list):
        return "", "", 0
    first = next((m for m in msgs if isinstance(m, dict) and m.get("role") == "user"), None)
    last = next((m for m in reversed(msgs) if isinstance(m, dict) and m.get("role") == "user"), None)
    turn = sum(1 for m in msgs if isinstance(m, dict) and m.get("role") == "assistant")
    return (_text_of(first.get("content")) if first else "",
            _text_of(last.get("content")) if last else "", turn)


def substitute(value, env):
    """Replace ${var}, ${var:json}, ${now+N} in every string of a JSON value."""
    if isinstance(value, str):
        def rep(m):
            name, sign, num, fmt = m.group(1), m.group(2), m.group(3), m.group(4)
            if name == "now":
                v = int(time.time())
                if sign:
                    v = v + int(num) if sign == "+" else v - int(num)
                v = str(v)
            elif name in env and not sign:
                v = str(env[name])
            else:
                return m.group(0)            # unknown: left as is, visible in the output
            return json.dumps(v)[1:-1] if fmt == "json" else v
        return VAR_RE.sub(rep, value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------
# State shared by the handler threads

class State:
    def __init__(self, scenario, log_path, dump_dir):
        self.scenario = scenario
        self.lock = threading.Lock()
        self.counters = {}                  # (conversation key, turn) -> requests seen
        self.req_no = 0
        self.ids = 0
        self.log_path = log_path
        self.dump_dir = dump_dir
        self.stopping = threading.Event()

    def next_req(self):
        with self.lock:
            self.req_no += 1
            return self.req_no

    def new_id(self, prefix):
        with self.lock:
            self.ids += 1
            return "%s_fake%06d%s" % (prefix, self.ids, os.urandom(4).hex())

    def bump(self, key):
        """Return how many requests reached key before this one, and count this one."""
        with self.lock:
            n = self.counters.get(key, 0)
            self.counters[key] = n + 1
            return n

    def reset(self):
        with self.lock:
            self.counters.clear()

    def log(self, record):
        if not self.log_path:
            return
        record.setdefault("time", round(time.time(), 3))
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line)

    def pick(self, first_text, turn):
        """Choose route, branch and step for a request.  Returns a dict describing it."""
        sc = self.scenario
        route = next((r for r in sc["routes"]
                      if r["match"] is None or r["match"].search(first_text)), None)
        env = {}
        for k, rx in sc["extract"].items():
            m = rx.search(first_text)
            if m:
                env[k] = m.group(1) if m.groups() else m.group(0)
        if route is None:
            return {"route": None, "env": env, "step": self._note_step(
                "fakeapi: no route of scenario %s matched this prompt (scripted reply)" % sc["name"])}
        for k, rx in route["extract"].items():
            m = rx.search(first_text)
            if m:
                env[k] = m.group(1) if m.groups() else m.group(0)
        env["route"] = route["name"]
        env["turn"] = str(turn)
        # Fixed variables fill in what the prompt did not provide; they may use
        # extracted ones ("cache": "cache/${slug}.md").
        for k, v in list(sc["vars"].items()) + list(route["vars"].items()):
            if k not in env:
                env[k] = substitute(v, env)
        attempt = env.get(sc["attempt_var"])
        branch = attempt if attempt in route["branches"] else "default"
        turns = route["branches"].get(branch)
        if turns is None:
            return {"route": route["name"], "branch": None, "env": env, "step": self._note_step(
                "fakeapi: route %s has no turns for attempt %s and no default (scripted reply)"
                % (route["name"], attempt))}
        if turn >= len(turns):
            return {"route": route["name"], "branch": branch, "env": env, "step": self._note_step(
                "fakeapi: route %s has no turn %d (scripted reply)" % (route["name"], turn))}
        keyed = sc["counter_ignore"].sub("", first_text)
        conv = hashlib.sha1(keyed.encode("utf-8", "replace")).hexdigest()[:16]
        seen = self.bump((route["name"], branch, conv, turn))
        steps = turns[turn]
        idx, left = 0, seen
        while idx < len(steps) - 1 and left >= steps[idx].get("times", 1):
            left -= steps[idx].get("times", 1)
            idx += 1
        step = substitute(copy.deepcopy(steps[idx]), env)
        return {"route": route["name"], "branch": branch, "env": env, "step": step,
                "step_index": idx, "seen": seen}

    @staticmethod
    def _note_step(text):
        return {"kind": "message", "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "_unscripted": True}


# --------------------------------------------------------------------------
# HTTP handler

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeapi/1"
    sys_version = ""

    def log_message(self, fmt, *args):      # silence the default stderr access log
        pass

    @property
    def st(self):
        return self.server.state

    def _base_record(self, req_no):
        h = self.headers
        return {"event": "request", "req": req_no, "method": self.command, "path": self.path,
                "peer": self.client_address[0],
                "user_agent": h.get("user-agent"),
                "x_api_key": h.get("x-api-key") is not None,
                "authorization": h.get("authorization") is not None,
                "anthropic_beta": h.get("anthropic-beta"),
                "retry_count": h.get("x-stainless-retry-count"),
                "stainless_timeout": h.get("x-stainless-timeout")}

    def do_HEAD(self):
        rec = self._base_record(self.st.next_req())
        rec["status"] = 404
        self.st.log(rec)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        rec = self._base_record(self.st.next_req())
        if self.path == "/_fakeapi/health":
            rec["status"] = 200
            self.st.log(rec)
            self._send_json(200, {"ok": True, "scenario": self.st.scenario["name"]})
            return
        rec["status"] = 404
        self.st.log(rec)
        self._send_error_json(404, "not_found_error", "fakeapi: no such endpoint %s" % self.path, {})

    def _read_body(self):
        te = (self.headers.get("transfer-encoding") or "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    return None
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("content-length") or 0)
        if n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        req_no = self.st.next_req()
        rec = self._base_record(req_no)
        t0 = time.time()
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            rec["status"] = 400
            self.st.log(rec)
            self.close_connection = True
            self._send_error_json(400, "invalid_request_error", "fakeapi: unreadable request body", {})
            return
        if raw is None:
            rec["status"] = 413
            self.st.log(rec)
            self.close_connection = True
            self._send_error_json(413, "request_too_large", "fakeapi: body over %d bytes" % MAX_BODY, {})
            return
        if self.path.split("?")[0] == "/_fakeapi/reset":
            self.st.reset()
            rec["status"] = 200
            self.st.log(rec)
            self._send_json(200, {"ok": True})
            return
        if self.path.split("?")[0] != "/v1/messages":
            rec["status"] = 404
            self.st.log(rec)
            self._send_error_json(404, "not_found_error", "fakeapi: no such endpoint %s" % self.path, {})
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            rec["status"] = 400
            self.st.log(rec)
            self._send_error_json(400, "invalid_request_error", "fakeapi: body is not a JSON object", {})
            return
        if self.st.dump_dir:
            with open(os.path.join(self.st.dump_dir, "req%05d.json" % req_no), "wb") as f:
                f.write(raw)
        first, last, turn = analyse(body)
        stream = bool(body.get("stream"))
        model = body.get("model") if isinstance(body.get("model"), str) else "claude-fake"
        pick = self.st.pick(first, turn)
        step = pick["step"]
        rec.update({"model": model, "stream": stream, "turn": turn, "route": pick["route"],
                    "branch": pick.get("branch"), "step": pick.get("step_index"),
                    "seen": pick.get("seen"), "kind": step["kind"],
                    "unscripted": bool(step.get("_unscripted")),
                    "vars": pick["env"], "messages": len(body.get("messages") or []),
                    "last_user": last[:300]})
        delay = float(step.get("delay", 0) or 0)
        if delay > 0:
            self._sleep(delay)
        hangs = step["kind"] in ("hang", "hang_after_headers")
        if hangs:
            # Logged now, so a test can see the request while it is still hanging;
            # a "hang_end" line follows when the client gives up or the server stops.
            rec["status"] = 200 if step["kind"] == "hang_after_headers" else None
            self.st.log(rec)
        try:
            status = self._respond(step, stream, model, rec)
        except OSError as e:                 # the client went away mid-answer
            rec["client_error"] = type(e).__name__
            status = rec.get("status")
        if hangs:
            self.st.log({"event": "hang_end", "req": req_no, "hang_s": rec.get("hang_s"),
                         "duration_s": round(time.time() - t0, 3)})
            return
        rec["status"] = status
        rec["duration_s"] = round(time.time() - t0, 3)
        self.st.log(rec)

    # -- responses ---------------------------------------------------------

    def _respond(self, step, stream, model, rec):
        kind = step["kind"]
        headers = {k: str(v) for k, v in (step.get("headers") or {}).items()}
        if kind == "error":
            status = step.get("status", 500)
            etype = step.get("type") or ERROR_TYPES.get(status, "api_error")
            msg = step.get("message", "fakeapi scripted %d %s" % (status, etype))
            self._send_error_json(status, etype, msg, headers)
            return status
        if kind == "close":
            self._drop(reset=bool(step.get("reset", False)))
            return None
        if kind == "hang":
            rec["hang_s"] = self._hang()
            self.close_connection = True
            return None
        if kind == "sse_error" and not stream:
            status = step.get("status", 529)
            self._send_error_json(status, step.get("type", "overloaded_error"),
                                  step.get("message", "Overloaded"), headers)
            return status
        message = self._build_message(step, model)
        if not stream:
            body = json.dumps(message).encode("utf-8")
            if kind == "hang_after_headers":
                self._start(200, "application/json", headers, length=len(body))
                rec["hang_s"] = self._hang()
                self.close_connection = True
                return 200
            if kind == "cut":
                self._start(200, "application/json", headers, length=len(body))
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self._drop()
                return 200
            self._send_json(200, message, headers)
            return 200
        events = self._events(message, step)
        self._start(200, "text/event-stream", headers, chunked=True)
        ev_delay = float(step.get("event_delay", 0) or 0)
        limit = None
        if kind == "cut":
            limit = int(step.get("after_events", 3))
        elif kind in ("hang_after_headers", "sse_error"):
            limit = int(step.get("after_events", 1))
        for i, (name, data) in enumerate(events):
            if limit is not None and i >= limit:
                break
            if i and ev_delay > 0:
                self._sleep(ev_delay)
            self._chunk(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode("utf-8"))
        if kind == "cut":
            self._drop(reset=bool(step.get("reset", False)))
        elif kind == "hang_after_headers":
            rec["hang_s"] = self._hang()
            self.close_connection = True
        elif kind == "sse_error":
            err = {"type": "error", "error": {"type": step.get("type", "overloaded_error"),
                                              "message": step.get("message", "Overloaded")}}
            self._chunk(("event: error\ndata: %s\n\n" % json.dumps(err)).encode("utf-8"))
            self._chunk(b"")
        else:
            self._chunk(b"")
        return 200

    def _build_message(self, step, model):
        dflt = self.st.scenario["defaults"]
        usage = dict(DEFAULT_USAGE)
        usage.update(dflt.get("usage", {}))
        usage.update(step.get("usage", {}))
        content = []
        for b in _blocks_of(step):
            if b["type"] == "text":
                content.append({"type": "text", "text": str(b.get("text", ""))})
            elif b["type"] == "tool_use":
                content.append({"type": "tool_use", "id": b.get("id") or self.st.new_id("toolu"),
                                "name": b["name"], "input": b.get("input", {})})
            else:
                content.append({"type": "thinking", "thinking": str(b.get("thinking", "")),
                                "signature": b.get("signature") or "fakesig" + os.urandom(8).hex()})
        has_tool = any(c["type"] == "tool_use" for c in content)
        stop = step.get("stop_reason") or ("tool_use" if has_tool else "end_turn")
        u = {"input_tokens": int(usage["input_tokens"]),
             "cache_creation_input_tokens": int(usage["cache_creation_input_tokens"]),
             "cache_read_input_tokens": int(usage["cache_read_input_tokens"])}
        split = usage.get("cache_creation")
        if split is not None:
            # The real API's split of the cache writes by TTL; the total is
            # their sum unless the scenario gives it.
            split = {"ephemeral_5m_input_tokens": int(split.get("ephemeral_5m_input_tokens", 0)),
                     "ephemeral_1h_input_tokens": int(split.get("ephemeral_1h_input_tokens", 0))}
            if "cache_creation_input_tokens" not in step.get("usage", {}) and \
               "cache_creation_input_tokens" not in dflt.get("usage", {}):
                u["cache_creation_input_tokens"] = sum(split.values())
            u["cache_creation"] = split
        u["output_tokens"] = int(usage["output_tokens"])
        u["service_tier"] = "standard"
        return {"id": self.st.new_id("msg"), "type": "message", "role": "assistant",
                "model": step.get("model", model), "content": content,
                "stop_reason": stop, "stop_sequence": None, "usage": u}

    @staticmethod
    def _pieces(s, size):
        if size <= 0 or len(s) <= size:
            return [s]
        return [s[i:i + size] for i in range(0, len(s), size)]

    def _events(self, message, step):
        """The SSE events of a message, in the real API's order and shapes."""
        size = int(step.get("chunk_chars", self.st.scenario["defaults"].get("chunk_chars", 0)) or 0)
        u = message["usage"]
        start = dict(message, content=[], stop_reason=None, stop_sequence=None,
                     usage=dict(u, output_tokens=min(1, u["output_tokens"])))
        ev = [("message_start", {"type": "message_start", "message": start}),
              ("ping", {"type": "ping"})]
        for i, b in enumerate(message["content"]):
            if b["type"] == "text":
                ev.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "text", "text": ""}}))
                for p in self._pieces(b["text"], size):
                    ev.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta", "text": p}}))
            elif b["type"] == "tool_use":
                ev.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "tool_use", "id": b["id"],
                                                                     "name": b["name"], "input": {}}}))
                js = json.dumps(b["input"])
                pieces = self._pieces(js, size) if size else ([js[: len(js) // 2], js[len(js) // 2:]]
                                                               if len(js) > 1 else [js])
                for p in pieces:
                    ev.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": p}}))
            else:
                ev.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "thinking", "thinking": "",
                                                                     "signature": ""}}))
                for p in self._pieces(b["thinking"], size):
                    ev.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "thinking_delta",
                                                                 "thinking": p}}))
                ev.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                   "delta": {"type": "signature_delta",
                                                             "signature": b["signature"]}}))
            ev.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        if step.get("delta_usage", self.st.scenario["defaults"].get("delta_usage", "output")) == "full":
            # As the real API does now: the cumulative input-side numbers too.
            du = {k: u[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                    "cache_read_input_tokens", "output_tokens")}
        else:
            du = {"output_tokens": u["output_tokens"]}
        ev.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": message["stop_reason"],
                                               "stop_sequence": None},
                                     "usage": du}))
        ev.append(("message_stop", {"type": "message_stop"}))
        return ev

    # -- low-level helpers -------------------------------------------------

    def _start(self, status, ctype, headers, length=None, chunked=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("request-id", self.st.new_id("req"))
        if chunked:
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode("utf-8")
        self._start(status, "application/json", headers or {}, length=len(body))
        self.wfile.write(body)
        self.wfile.flush()

    def _send_error_json(self, status, etype, msg, headers):
        rid = self.st.new_id("req")
        self._send_json(status, {"type": "error", "error": {"type": etype, "message": msg},
                                 "request_id": rid}, headers)

    def _drop(self, reset=False):
        """End the TCP connection now, in the middle of (or instead of) a response:
        an orderly FIN, or with reset=True an RST (SO_LINGER 0)."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _sleep(self, seconds):
        self.st.stopping.wait(seconds)

    def _hang(self):
        """Answer nothing more until the client goes away or the server stops; returns seconds."""
        t0 = time.time()
        sock = self.connection
        while not self.st.stopping.is_set():
            try:
                r, _, _ = select.select([sock], [], [], 0.5)
                if r and not sock.recv(65536, socket.MSG_PEEK):
                    break
                if r:
                    sock.recv(65536)         # a pipelined request we will never answer
            except OSError:
                break
        return round(time.time() - t0, 3)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """A client that resets a kept-alive connection is normal here; anything else is a bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Scripted Anthropic Messages API on 127.0.0.1.")
    ap.add_argument("--scenario", required=True, help="scenario JSON file")
    ap.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    ap.add_argument("--port-file", help="write the chosen port here (atomically) once listening")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--dump-dir", help="save every request body as reqNNNNN.json here")
    ap.add_argument("--max-seconds", type=float, default=3600.0,
                    help="stop by itself after this many seconds (default 3600)")
    ap.add_argument("--check", action="store_true", help="only validate the scenario and exit")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="a variable for every reply, like the scenario's top-level vars (e.g. the demo's "
                         "evidence_base, the address of its local evidence pages)")
    args = ap.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as e:
        print("fakeapi: scenario error: %s" % e, file=sys.stderr)
        return 2
    for nv in args.var:
        name, sep, value = nv.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            print("fakeapi: --var expects NAME=VALUE, got %r" % nv, file=sys.stderr)
            return 2
        scenario["vars"][name] = value
    if args.check:
        print("fakeapi: %s ok (%d routes)" % (args.scenario, len(scenario["routes"])))
        return 0
    if args.dump_dir:
        os.makedirs(args.dump_dir, exist_ok=True)
    state = State(scenario, args.log, args.dump_dir)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = state
    port = srv.server_address[1]
    state.log({"event": "start", "port": port, "scenario": scenario["name"], "pid": os.getpid()})
    if args.port_file:
        tmp = args.port_file + ".tmp%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("http://127.0.0.1:%d" % port, flush=True)

    stop = threading.Event()
    why = {"reason": "max-seconds"}

    def on_signal(signum, frame):
        why["reason"] = signal.Signals(signum).name
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    stop.wait(args.max_seconds)
    state.stopping.set()
    srv.shutdown()
    srv.server_close()
    state.log({"event": "stop", "reason": why["reason"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
