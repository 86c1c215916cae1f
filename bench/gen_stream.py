#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a realistic Claude Code stream-json file for bench/bench_stream.sh.

Shapes follow /work/shared/claude-code/HEADLESS.md (CLI 2.1.197): many
iterations' worth of system/init, assistant (one content block per line,
same message.id and usage repeated), user tool results (with the
tool_use_result duplicate), api_retry, rate_limit_event, task_* lines and a
result line per iteration. Some tool results are 1-11 MB lines (a Read of a
big file: the content appears twice), some assistant texts are multi-MB
(with RALPH_* markers inside) followed by an equally big result line.

Standard library only; deterministic for a given --seed.

usage: gen_stream.py OUT [--mib 210] [--seed 1] [--max-line-mib 11]
"""
import argparse
import json
import random
import sys
import uuid

TOOLS = ["Task", "Bash", "Glob", "Grep", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write",
         "NotebookEdit", "WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell",
         "SlashCommand", "Skill"]

WORDS = ("coach head assistant recruiting coordinator defensive offensive line backs "
         "university college athletics football basketball soccer staff directory email "
         "phone bio season roster schedule href div class span table tr td https www edu "
         "the of and to in for on with at by from é · — 中文 Ωmega naïve café").split()


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Gen:
    def __init__(self, rng, max_line):
        self.rng = rng
        self.max_line = max_line
        # A pool of text lines to sample big contents from (fast).
        self.pool = [self.text_line() for _ in range(20000)]

    def text_line(self):
        r = self.rng
        kind = r.random()
        words = " ".join(r.choice(WORDS) for _ in range(r.randint(3, 18)))
        if kind < 0.3:
            return '<td class="staff-%d"><a href="https://example.edu/p/%d">%s</a></td>' % (
                r.randint(1, 999), r.randint(1, 99999), words)
        if kind < 0.5:
            return '"%s","%s",%d,"%s@example.edu"' % (words[:20], words[20:40], r.randint(1, 99),
                                                       words[:8].replace(" ", "."))
        if kind < 0.6:
            return "\tif (x[%d] == '\\\\') { return \"%s\"; }" % (r.randint(0, 9), words[:30])
        return words

    def text(self, nbytes):
        out, size = [], 0
        pool, rng = self.pool, self.rng
        while size < nbytes:
            line = pool[rng.randrange(len(pool))]
            out.append(line)
            size += len(line) + 1
        return "\n".join(out)

    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def msg_id(self):
        return "msg_%024x" % self.rng.getrandbits(96)

    def tool_id(self):
        return "toolu_%024x" % self.rng.getrandbits(96)


def init_line(g, sid):
    return {"type": "system", "subtype": "init", "cwd": "/srv/batch/work", "session_id": sid,
            "tools": TOOLS, "mcp_servers": [], "model": "claude-opus-4-8[1m]",
            "permissionMode": "acceptEdits",
            "slash_commands": ["compact", "context", "cost", "init", "review", "security-review"],
            "apiKeySource": "ANTHROPIC_API_KEY", "claude_code_version": "2.1.197",
            "output_style": "default", "agents": ["general-purpose", "statusline-setup"],
            "skills": [], "plugins": [], "uuid": g.uid(),
            "fast_mode_state": "off"}


def usage(g):
    r = g.rng
    return {"input_tokens": r.randint(1, 20), "cache_creation_input_tokens": r.randint(0, 30000),
            "cache_read_input_tokens": r.randint(0, 200000),
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": r.randint(1, 4000), "service_tier": "standard"}


def assistant(g, sid, mid, block, u, model="claude-opus-4-8[1m]", extra=None):
    line = {"type": "assistant",
            "message": {"id": mid, "type": "message", "role": "assistant", "model": model,
                        "content": [block], "stop_reason": None, "stop_sequence": None,
                        "usage": u, "context_management": None},
            "parent_tool_use_id": None, "session_id": sid, "uuid": g.uid()}
    if extra:
        line.update(extra)
    return line


def tool_call(g):
    r = g.rng
    k = r.random()
    if k < 0.4:
        return "Bash", {"command": "curl -s -L 'https://athletics.example.edu/staff-directory?sport=%d' | "
                                   "python3 -c 'import sys,re; print(len(sys.stdin.read()))'" % r.randint(1, 99),
                        "description": "Fetch staff directory"}
    if k < 0.6:
        return "Read", {"file_path": "/srv/batch/work/cache/page_%d.html" % r.randint(1, 500),
                        "offset": 1, "limit": 100000}
    if k < 0.75:
        return "Write", {"file_path": "output/school_%d.csv" % r.randint(1, 500),
                         "content": g.text(r.randint(200, 6000))}
    if k < 0.9:
        return "WebFetch", {"url": "https://example.edu/coaches/%d" % r.randint(1, 9999),
                            "prompt": "List every coach with title and email"}
    return "Grep", {"pattern": "coach|Coach", "path": "cache", "output_mode": "content"}


def tool_result(g, sid, tid, name, inp, big):
    r = g.rng
    if big:
        # A Read of a big file: the content twice (message + tool_use_result).
        content = g.text(big)
        tur = {"type": "text", "file": {"filePath": inp.get("file_path", "x"), "content": content,
                                        "numLines": content.count("\n") + 1, "startLine": 1,
                                        "totalLines": content.count("\n") + 1}}
    else:
        content = g.text(r.choice([200, 800, 3000, 12000, 30000]))
        tur = {"stdout": content, "stderr": "", "interrupted": False, "isImage": False}
    is_err = r.random() < 0.05
    if is_err:
        content = "This command requires approval"
        tur = "Error: " + content
    return {"type": "user",
            "message": {"role": "user", "content": [{"tool_use_id": tid, "type": "tool_result",
                                                     "content": content, "is_error": is_err}]},
            "parent_tool_use_id": None, "session_id": sid, "uuid": g.uid(),
            "tool_use_result": tur}


def result_line(g, sid, cost, turns, text, subtype="success", is_error=False, api_status=None, errors=None,
                denials=None):
    r = g.rng
    line = {"type": "result", "subtype": subtype, "is_error": is_error,
            "duration_ms": r.randint(10000, 900000), "duration_api_ms": r.randint(5000, 800000),
            "num_turns": turns}
    if text is not None:
        line["result"] = text
    if api_status is not None or (text is not None and is_error):
        line["api_error_status"] = api_status
    line.update({"stop_reason": "end_turn", "session_id": sid, "total_cost_usd": cost,
                 "usage": usage(g), "modelUsage": {}, "permission_denials": denials or [],
                 "fast_mode_state": "off", "uuid": g.uid()})
    if text is not None:
        line["terminal_reason"] = "completed"
    if errors:
        line["errors"] = errors
    return line


def iteration(g, n):
    """Yield the lines of one agent run."""
    r = g.rng
    sid = g.uid()
    school = "University %d" % n
    yield init_line(g, sid)
    if r.random() < 0.05:
        for a in range(1, r.randint(2, 4)):
            yield {"type": "system", "subtype": "api_retry", "attempt": a, "max_retries": 10,
                   "retry_delay_ms": round(r.uniform(400, 40000), 1), "error_status": r.choice([429, 529, None]),
                   "error": r.choice(["rate_limit", "overloaded", "server_error", "unknown"]),
                   "session_id": sid, "uuid": g.uid()}
    if r.random() < 0.03:
        yield {"type": "rate_limit_event",
               "rate_limit_info": {"status": "allowed_warning", "resetsAt": 1795561200 + r.randint(0, 99999),
                                   "rateLimitType": "five_hour", "utilization": 0.92,
                                   "isUsingOverage": False, "surpassedThreshold": 0.9},
               "uuid": g.uid(), "session_id": sid}
    cost = round(r.uniform(0.01, 4.0), r.choice([2, 6, 9, 12]))
    if r.random() < 0.04:
        # A terminal API error: synthetic assistant line + result "success"/is_error.
        text = "API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit"
        yield assistant(g, sid, g.uid(), {"type": "text", "text": text},
                        {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 0}, model="<synthetic>",
                        extra={"error": "rate_limit", "request_id": "req_%x" % r.getrandbits(32)})
        yield result_line(g, sid, 0, 1, text, is_error=True, api_status=429)
        return
    turns = r.randint(4, 30)
    denials = []
    for t in range(turns):
        mid = g.msg_id()
        u = usage(g)
        if r.random() < 0.5:
            yield assistant(g, sid, mid, {"type": "text", "text": "RALPH_PROGRESS: %s: step %d of %d\nLooking at the staff page." % (
                school, t + 1, turns)}, u)
        if r.random() < 0.1:
            yield assistant(g, sid, mid, {"type": "thinking", "thinking": g.text(r.randint(100, 2000)),
                                          "signature": "sig"}, u)
        name, inp = tool_call(g)
        tid = g.tool_id()
        yield assistant(g, sid, mid, {"type": "tool_use", "id": tid, "name": name, "input": inp}, u)
        if r.random() < 0.05:
            yield {"type": "system", "subtype": "task_started", "task_id": "b%x" % r.getrandbits(24),
                   "tool_use_id": tid, "description": "long command", "task_type": "local_bash",
                   "session_id": sid, "uuid": g.uid()}
        big = 0
        if r.random() < 0.005:
            big = r.randint(g.max_line // 22, int(g.max_line / 2.15))
        line = tool_result(g, sid, tid, name, inp, big)
        if line["message"]["content"][0]["is_error"]:
            denials.append({"tool_name": name, "tool_use_id": tid, "tool_input": inp})
        yield line
    final_mid = g.msg_id()
    u = usage(g)
    coaches = r.randint(0, 40)
    if r.random() < 0.03:
        # A multi-MB answer; markers inside it, and the result repeats it.
        body = g.text(r.randint(1 << 20, min(5 << 20, int(g.max_line / 2.15))))
        text = ("Summary below.\nRALPH_PROGRESS: writing report\n" + body +
                '\nRALPH_DONE: {"school": "%s", "coaches": %d, "overlaps": 0, "csv": "output/u%d.csv"}\n' % (
                    school, coaches, n))
    else:
        text = 'Done.\nRALPH_DONE: {"school": "%s", "coaches": %d, "overlaps": %d, "csv": "output/u%d.csv"}' % (
            school, coaches, r.randint(0, 3), n)
    yield assistant(g, sid, final_mid, {"type": "text", "text": text}, u)
    if r.random() < 0.05:
        yield result_line(g, sid, cost, turns + 1, None, subtype="error_max_budget_usd", is_error=True,
                          errors=["Reached maximum budget ($5)"])
    else:
        yield result_line(g, sid, cost, turns + 1, text, denials=denials)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mib", type=int, default=210)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-line-mib", type=float, default=11.0)
    a = ap.parse_args()
    g = Gen(random.Random(a.seed), int(a.max_line_mib * 1000 * 1000))
    target = a.mib << 20
    size, n, longest = 0, 0, 0
    with open(a.out, "wb") as f:
        while size < target:
            n += 1
            for obj in iteration(g, n):
                b = dumps(obj).encode("utf-8") + b"\n"
                f.write(b)
                size += len(b)
                longest = max(longest, len(b) - 1)
    print("wrote %s: %d bytes, %d iterations, longest line %d bytes" % (a.out, size, n, longest), file=sys.stderr)


if __name__ == "__main__":
    main()
