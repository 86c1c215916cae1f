#!/usr/bin/env python3
"""The man pages against the tables (tests/docs/man_pages.sh): DIR holds the
rendered pages as text (ralphsup.1.txt, ralphsup.toml.5.txt), `commands` and
`keys` (ralphsup __list) and help.<command> (each command's --help). A
command's options are the --options of its usage synopsis (the --help text up
to its first blank line). Prints one line per problem."""
import re, sys
d = sys.argv[1]
toml_txt = sys.argv[2] if len(sys.argv) > 2 else f"{d}/ralphsup.toml.5.txt"
problems = []
page = open(f"{d}/ralphsup.1.txt").read()
# The COMMANDS section: a subsection per command ("   start" on its own line).
body = page.split("\nCOMMANDS\n", 1)[1].split("\nEXIT STATUS\n", 1)[0] if "\nCOMMANDS\n" in page else ""
if not body:
    problems.append("ralphsup(1) has no COMMANDS section")
sections = dict(re.findall(r"^   (\S+)\n(.*?)(?=^   \S|\Z)", body, re.S | re.M))
for cmd in open(f"{d}/commands").read().split():
    if cmd not in sections:
        problems.append(f"ralphsup(1): command {cmd} has no section under COMMANDS")
        continue
    for opt in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]", open(f"{d}/help.{cmd}").read().split("\n\n", 1)[0]))):
        if opt != "--help" and not re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", sections[cmd]):
            problems.append(f"ralphsup(1): the section of {cmd} does not name its option {opt}")
toml = open(toml_txt).read()
keys = toml.split("\nKEYS\n", 1)[1].split("\nEXAMPLE\n", 1)[0] if "\nKEYS\n" in toml else ""
tables = {}
for name, text in re.findall(r"^   \[([^\]]+)\]\n(.*?)(?=^   \[|\Z)", keys, re.S | re.M):
    tables[name.split(".")[0]] = text
for line in open(f"{d}/keys").read().split():
    sec, key = line.split(".", 1)
    if sec not in tables:
        problems.append(f"ralphsup.toml(5): no [{sec}] section under KEYS")
    elif not re.search(r"^\s+" + re.escape(key) + r"( = |$)", tables[sec], re.M):
        problems.append(f"ralphsup.toml(5): [{sec}] does not describe {key}")
print("\n".join(problems))
