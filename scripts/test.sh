#!/usr/bin/env bash
# Install everything the test suite needs into ./.venv and tests/compat/node_modules, then run it.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# PyPI's pyright fetches its npm package on first use: do it now, not in the middle of the tests.
.venv/bin/pyright --version >/dev/null
# The web console's page (console/ -> src/cove/console/static/), served by the sandbox and tested in Chromium.
bash scripts/build_console.sh
# The stock aws-amplify JS client, pinned by tests/compat/package-lock.json.
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)

exec .venv/bin/python -m pytest "$@"
