#!/usr/bin/env python3
"""Every `ralphsup ...` command line in the docs must run as written (issue 14, point 9).

Reads README.md, docs/ (Markdown), config/ and contrib/ (comments and the
scripts' "$RALPHSUP" calls) — or the files given after --files — and checks
each ralphsup command line found against the binary itself: the command must
be one of its command table (`ralphsup __list commands`, plus help, --version,
--help and the hidden keeper and __list), and every --option must be one the command's
usage synopsis names (its `--help` up to the first blank line). Where it looks:
  - Markdown: inline code spans and the lines of fenced code blocks; in prose
    and comments only "ralphsup WORD ARG" whose ARG is a .toml file, CONFIG or
    an --option (so "ralphsup stores absolute paths" is prose, not a command);
  - TOML and shell files: the comments (code spans, and the prose rule), and
    shell lines that run "$RALPHSUP" WORD ....
A word that is no command name (<command>, COMMAND, …) is a placeholder.
Usage: check_commands.py RALPHSUP SOURCE_ROOT [--files F...]
Prints one line per problem (file:line: ...) and the number of lines checked.
"""
import os
import re
import subprocess
import sys

ralphsup, root = sys.argv[1], sys.argv[2]
files = sys.argv[4:] if len(sys.argv) > 3 and sys.argv[3] == "--files" else None


def run(*args):
    return subprocess.run([ralphsup, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout


commands = run("__list", "commands").split()
if "start" not in commands:
    sys.exit(f"check_commands: `{ralphsup} __list commands` gave no command table")


def usage_options(cmd):
    """The --options of @cmd's usage synopsis: its --help up to the first blank line."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]", run(cmd, "--help").split("\n\n", 1)[0])) | {"--help"}


options = {c: usage_options(c) for c in commands + ["keeper"]}
options["help"] = set()
options["__list"] = set()  # hidden: the tables behind the man pages and the completion
for top in ("--version", "--help", "-h"):
    options[top] = set()
SUB = {"hook": {"guard"}}

INVOKE = re.compile(r"(?:^|(?<=[\s`(\"'=]))(?:[\w.$/{}-]*/)?ralphsup\s+(\S+)(.*)")
PLACEHOLDER = re.compile(r"^[a-z_][a-z_-]*$|^--?[a-z][a-z-]*$")


def candidates(path):
    """(line number, text, strict) for each place a command line may be; strict: code, not prose."""
    ext = os.path.splitext(path)[1]
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    fenced = False
    for n, line in enumerate(lines, 1):
        if ext == ".md":
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                yield n, line.split(" #", 1)[0], True
                continue
            text = line
        else:
            if ext in (".sh", ".bash", "") and '"$RALPHSUP"' in line and not line.lstrip().startswith("#"):
                yield n, line.replace('"$RALPHSUP"', "ralphsup"), True
            if "#" not in line:
                continue
            text = line.split("#", 1)[1]
        for span in re.findall(r"`([^`]+)`", text):
            yield n, span, True
        yield n, re.sub(r"`[^`]*`", " ", text), False


def check_text(text, strict):
    """Problems of every ralphsup invocation in @text; None when there is none to check."""
    found, problems = False, []
    for m in INVOKE.finditer(text):
        cmd, rest = m.group(1).rstrip(".,:;)"), m.group(2)
        rest = re.split(r"\s(?:\||;|&&|\|\||#)\s|(?=\bralphsup\s)|`", rest)[0]
        args = rest.split()
        if not strict:
            if not args or not (args[0].endswith(".toml") or args[0] == "CONFIG" or args[0].startswith("--")):
                continue
        if not PLACEHOLDER.match(cmd):
            continue  # <command>, CMD, …: a placeholder
        found = True
        if cmd not in options:
            problems.append(f'unknown command "{cmd}" (commands: {", ".join(commands)})')
            continue
        if cmd in SUB and args and args[0] not in SUB[cmd] and PLACEHOLDER.match(args[0]) \
                and not args[0].startswith("-"):
            problems.append(f'`ralphsup {cmd}` has no subcommand "{args[0]}" ({", ".join(sorted(SUB[cmd]))})')
        for opt in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]", rest):
            if opt not in options[cmd]:
                problems.append(f'`ralphsup {cmd}` has no option {opt} '
                                f'(its --help names: {", ".join(sorted(options[cmd])) or "none"})')
    return problems if found else None


def doc_files():
    for top in ("README.md",):
        yield os.path.join(root, top)
    for d in ("docs", "config", "contrib"):
        for dirpath, dirnames, names in os.walk(os.path.join(root, d)):
            dirnames[:] = [x for x in dirnames if x not in ("man",)]  # checked by man_pages.sh
            for name in sorted(names):
                if os.path.splitext(name)[1] in (".md", ".toml", ".sh", ".bash", ".service", ""):
                    yield os.path.join(dirpath, name)


checked, bad = 0, 0
for path in files or doc_files():
    rel = os.path.relpath(path, root)
    for n, text, strict in candidates(path):
        problems = check_text(text, strict)
        if problems is None:
            continue
        checked += 1
        for p in problems:
            bad += 1
            print(f"{rel}:{n}: {text.strip()}: {p}")
print(f"# {checked} ralphsup command lines checked, {bad} problems")
if not files and checked < 50:
    sys.exit(f"check_commands: only {checked} command lines found: the extraction is broken")
sys.exit(1 if bad else 0)
