#!/usr/bin/env bash
# Builds the agent into <repo>/build/envd: a static binary, bind-mounted read-only into every sandbox.
# Quiet and incremental (Go's build cache); no VCS stamping, so builds do not depend on the git state.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o ../../build/envd ./cmd/envd
