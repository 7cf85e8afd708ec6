#!/usr/bin/env bash
# Runs the Python SDK's tests: makes (or reuses) sdks/python/.venv, installs the package with its test extras
# quietly, then runs pytest. The exit code is pytest's; "no tests collected" (5) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "run-tests.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$code"
