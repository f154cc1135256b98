#!/usr/bin/env bash
# Install Cove into ./.venv and start the sandbox (default: the bundled example schema).
# Usage: bash scripts/sandbox.sh [SCHEMA] [cove sandbox options...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/cove sandbox "$@"
