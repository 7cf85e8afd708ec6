#!/usr/bin/env bash
# `npm run bench`: runs every benchmark; each writes a markdown table to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TENSOR_BOX_CACHE_DIR=${TENSOR_BOX_CACHE_DIR:-/var/cache/tensor-box}
for b in bench/*.bench.ts; do
  echo "== $b" >&2
  node --import tsx "$b"
done
