#!/bin/sh
# install-claude.sh: install the pinned Claude Code CLI into <repo>/.deps/npm
# and print the path of its binary on stdout (the only thing printed there).
#
# Idempotent: when .deps/npm/node_modules/.bin/claude already reports the pinned
# version, nothing is downloaded.  Needs node and npm (Debian: nodejs, npm) and
# the npm registry.  It does not touch any global npm prefix, PATH or ~/.claude.
#
# Usage: contrib/install-claude.sh          (prints e.g. /repo/.deps/npm/node_modules/.bin/claude)
# Env:   RALPHSUP_CLAUDE_VERSION overrides the pinned version (for trying a new one).
set -eu

VERSION="${RALPHSUP_CLAUDE_VERSION:-2.1.197}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="$ROOT/.deps/npm"
BIN="$PREFIX/node_modules/.bin/claude"

installed_version() {
    # `claude --version` prints "2.1.197 (Claude Code)"; keep the first word.
    [ -x "$BIN" ] || return 1
    "$BIN" --version 2>/dev/null </dev/null | awk 'NR == 1 { print $1 }'
}

if [ "$(installed_version || true)" != "$VERSION" ]; then
    command -v npm >/dev/null 2>&1 || {
        echo "install-claude.sh: npm not found (apt-get install nodejs npm)" >&2
        exit 1
    }
    mkdir -p "$PREFIX"
    echo "install-claude.sh: installing @anthropic-ai/claude-code@$VERSION into $PREFIX" >&2
    npm install --no-audit --no-fund --prefix "$PREFIX" \
        "@anthropic-ai/claude-code@$VERSION" >&2
    got="$(installed_version || true)"
    if [ "$got" != "$VERSION" ]; then
        echo "install-claude.sh: $BIN reports '$got', expected $VERSION" >&2
        exit 1
    fi
fi
echo "$BIN"
