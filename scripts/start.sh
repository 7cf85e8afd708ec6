#!/usr/bin/env bash
# `npm start`: install and build what is missing, then run the server (API + ingress + console) in the foreground, as
# compiled JavaScript (packages/server/dist, built by setup.sh; bench/results/startup.md has the start-up times).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --enable-source-maps packages/server/dist/main.js
