#!/usr/bin/env bash
# Generates envd's Go code (protobuf messages + connect-go handlers) from <repo>/spec/envd into packages/envd/gen.
# --check: generate into a temporary copy and fail when it differs from what is committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export GOBIN="$repo/build/bin"
[ -x "$GOBIN/protoc-gen-go" ] || go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
[ -x "$GOBIN/protoc-gen-connect-go" ] || go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.19.1
buf="$repo/node_modules/.bin/buf"
if [ "${1:-}" = "--check" ]; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  cp "$here/buf.gen.go.yaml" "$tmp/"
  sed -i "s#\.\./\.\./build/bin#$GOBIN#; s#out: gen#out: $tmp/gen#" "$tmp/buf.gen.go.yaml"
  (cd "$repo/spec/envd" && "$buf" generate --template "$tmp/buf.gen.go.yaml" .)
  diff -r "$tmp/gen" "$here/gen" >&2 || { echo "packages/envd/gen is stale: run npm run gen" >&2; exit 1; }
  exit 0
fi
rm -rf "$here/gen"
tmpl="$(mktemp --suffix=.yaml)"; trap 'rm -f "$tmpl"' EXIT
sed "s#\.\./\.\./build/bin#$GOBIN#; s#out: gen#out: $here/gen#" "$here/buf.gen.go.yaml" > "$tmpl"
(cd "$repo/spec/envd" && "$buf" generate --template "$tmpl" .)
