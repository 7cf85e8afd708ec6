#!/usr/bin/env bash
# `npm start`: install what is missing, then run the server (API + ingress + console) in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx packages/server/src/main.ts
