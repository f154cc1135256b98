#!/usr/bin/env bash
# Install Cove with its server into ./.venv (only when needed) and start the sandbox (default: the
# bundled example schema).
# Usage: bash scripts/sandbox.sh [SCHEMA] [cove sandbox options...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
EXTRAS="server"
# Reinstall only when .venv is new or pyproject.toml (dependencies, entry points) changed since the
# last install: the editable install already sees every source change.
WANT="$(sha256sum < pyproject.toml | cut -d' ' -f1) [$EXTRAS]"
STAMP=.venv/.cove-installed
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$EXTRAS]"
    echo "$WANT" > "$STAMP"
fi
# The console's page (/console) is built from console/ with Node (a no-op when its lock file and sources
# are unchanged); without npm the sandbox runs without it.
if command -v npm >/dev/null; then
    bash scripts/build_console.sh >/dev/null
else
    echo "note: npm not found, so /console is not built (the API works; see README, The console)" >&2
fi
exec .venv/bin/cove sandbox "$@"
