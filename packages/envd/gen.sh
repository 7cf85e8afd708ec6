#!/usr/bin/env bash
# Generates envd's Go code (protobuf messages + connect-go handlers) from <repo>/spec/envd into packages/envd/gen.
# The plugins are pinned and installed into <repo>/build/bin; buf is the repo's npm devDependency.
# --check: generate into a temporary directory and fail when it differs from packages/envd/gen.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
protoc_gen_go_version=v1.36.11
connect_go_version=v1.19.1
export GOBIN="$repo/build/bin"
if [ "$("$GOBIN/protoc-gen-go" --version 2>/dev/null)" != "protoc-gen-go $protoc_gen_go_version" ]; then
  go install "google.golang.org/protobuf/cmd/protoc-gen-go@$protoc_gen_go_version"
fi
if [ "v$("$GOBIN/protoc-gen-connect-go" --version 2>/dev/null)" != "$connect_go_version" ]; then
  go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@$connect_go_version"
fi
buf="$repo/node_modules/.bin/buf"
[ -x "$buf" ] || { echo "gen.sh: $buf is missing: run npm install at the repo root" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# buf.gen.go.yaml names the plugins relative to packages/envd; buf runs from spec/envd, so make them absolute here.
sed "s#\.\./\.\./build/bin#$GOBIN#; s#out: gen#out: $tmp/gen#" "$here/buf.gen.go.yaml" > "$tmp/buf.gen.yaml"
(cd "$repo/spec/envd" && "$buf" generate --template "$tmp/buf.gen.yaml" .)

if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$tmp/gen" "$here/gen" >&2; then
    echo "packages/envd/gen is out of date with spec/envd: run packages/envd/gen.sh (or npm run gen)" >&2
    exit 1
  fi
  exit 0
fi
rm -rf "$here/gen"
mv "$tmp/gen" "$here/gen"
