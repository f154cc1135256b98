#!/usr/bin/env bash
# Install Cove into ./.venv and start the sandbox (default: the bundled example schema).
# Usage: bash scripts/sandbox.sh [SCHEMA] [cove sandbox options...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
# The console's page (/console) is built from console/ with Node; without npm the sandbox runs without it.
if command -v npm >/dev/null; then
    bash scripts/build_console.sh >/dev/null
else
    echo "note: npm not found, so /console is not built (the API works; see README, The console)" >&2
fi
exec .venv/bin/cove sandbox "$@"
