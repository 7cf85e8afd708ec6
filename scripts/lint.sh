#!/usr/bin/env bash
# Formatter and linter checks for every language in the repository (part of `npm test`; `--fix` rewrites instead):
# Biome for TypeScript/TSX/CSS (biome.jsonc), ruff for the Python SDK (sdks/python/pyproject.toml), gofmt and go vet
# for envd and the Go SDK. Exits non-zero on the first language with findings.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=${1:-}
if [ "$fix" = "--fix" ]; then
  npx biome check --write .
else
  npx biome check .
fi
ruff=sdks/python/.venv/bin/ruff
if [ ! -x "$ruff" ]; then
  [ -x sdks/python/.venv/bin/python ] || python3 -m venv sdks/python/.venv
  sdks/python/.venv/bin/python -m pip install -q --disable-pip-version-check "ruff==0.17.6"
fi
if [ "$fix" = "--fix" ]; then
  (cd sdks/python && .venv/bin/ruff format . && .venv/bin/ruff check --fix .)
else
  (cd sdks/python && .venv/bin/ruff format --check . && .venv/bin/ruff check .)
fi
for mod in packages/envd sdks/go; do
  if [ "$fix" = "--fix" ]; then gofmt -w "$mod"; fi
  unformatted=$(gofmt -l "$mod")
  if [ -n "$unformatted" ]; then echo "gofmt: not formatted: $unformatted" >&2; exit 1; fi
  (cd "$mod" && go vet ./...)
done
echo "lint: clean" >&2
