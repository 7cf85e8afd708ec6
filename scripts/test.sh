#!/usr/bin/env bash
# `npm test`: every test of the project — envd's Go tests, then the TypeScript suites (runtime, server, SDK, CLI, e2b
# compatibility) with node's test runner — and one closing summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export TENSOR_BOX_CACHE_DIR=${TENSOR_BOX_CACHE_DIR:-/var/cache/tensor-box}
passed=0; failed=0; skipped=0
log=$(mktemp -d)

echo "== generated code is up to date with spec/" >&2
if bash scripts/gen.sh --check; then passed=$((passed+1)); else failed=$((failed+1)); fi

echo "== formatters and linters (scripts/lint.sh)" >&2
if bash scripts/lint.sh; then passed=$((passed+1)); else failed=$((failed+1)); fi

if [ -f packages/envd/go.mod ]; then
  echo "== envd (go test)" >&2
  (cd packages/envd && timeout -k 10 900 go test -count=1 -timeout 10m ./... 2>&1) | tee "$log/go.txt"
  p=$(grep -c '^--- PASS\|^ok ' "$log/go.txt" || true); f=$(grep -c '^--- FAIL\|^FAIL' "$log/go.txt" || true)
  passed=$((passed+p)); failed=$((failed+f))
fi

echo "== TypeScript suites (node --test)" >&2
mapfile -t files < <(find packages/runtime/src packages/server/src packages/sdk/src packages/cli/src tests conformance/runners -name '*.test.ts' 2>/dev/null | sort)
if [ ${#files[@]} -gt 0 ]; then
  timeout -k 10 2400 node --import tsx --test --test-concurrency=1 --test-timeout=300000 --test-force-exit --test-reporter=spec "${files[@]}" 2>&1 | tee "$log/node.txt"
  p=$(grep -E '^ℹ pass ' "$log/node.txt" | awk '{print $3}'); f=$(grep -E '^ℹ fail ' "$log/node.txt" | awk '{print $3}')
  s=$(grep -E '^ℹ skipped ' "$log/node.txt" | awk '{print $3}')
  passed=$((passed+${p:-0})); failed=$((failed+${f:-1})); skipped=$((skipped+${s:-0}))
fi

if [ -f sdks/go/go.mod ]; then
  echo "== Go SDK (go test, live server via the test harness)" >&2
  (cd sdks/go && timeout -k 10 1200 go test -count=1 -timeout 15m -v ./... 2>&1) > "$log/gosdk.txt"; grep -E '^(--- |ok |FAIL|PASS)' "$log/gosdk.txt" | grep -v '^--- PASS' || true
  p=$(grep -c '^--- PASS' "$log/gosdk.txt" || true); f=$(grep -c '^--- FAIL\|^FAIL' "$log/gosdk.txt" || true)
  s=$(grep -c '^--- SKIP' "$log/gosdk.txt" || true)
  if [ "$p$f" = "00" ]; then f=1; tail -20 "$log/gosdk.txt"; fi
  [ "$f" != "0" ] && grep -B15 -- '^--- FAIL' "$log/gosdk.txt" | grep -v '^=== ' | head -60
  passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
fi

if [ -f sdks/python/run-tests.sh ]; then
  echo "== Python SDK (pytest, live server via the test harness)" >&2
  timeout -k 10 1200 bash sdks/python/run-tests.sh -q -rs 2>&1 | tee "$log/py.txt" | tail -25
  summary=$(grep -E '(passed|failed|error)' "$log/py.txt" | tail -1)
  p=$(grep -oE '[0-9]+ passed' <<<"$summary" | cut -d' ' -f1); f=$(grep -oE '[0-9]+ (failed|error)' <<<"$summary" | awk '{s+=$1} END {if (NR) print s}')
  s=$(grep -oE '[0-9]+ skipped' <<<"$summary" | cut -d' ' -f1)
  [ -z "$p$f" ] && f=1
  passed=$((passed+${p:-0})); failed=$((failed+${f:-0})); skipped=$((skipped+${s:-0}))
fi

echo
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
