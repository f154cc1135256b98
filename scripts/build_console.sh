#!/usr/bin/env bash
# Build the web console (console/, React + GraphiQL, bundled by esbuild) into src/cove/console/static/,
# which the wheel ships. Needs Node and npm at build time only; the built page loads nothing from the network.
# Usage: bash scripts/build_console.sh
set -euo pipefail
cd "$(dirname "$0")/../console"
# Reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.package-lock.json.src; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.package-lock.json.src
fi
node build.mjs
