#!/usr/bin/env bash
# Regenerates the SDK's generated code with pinned generator versions; commit the result (a diff after running this
# script means the generated code is stale):
#   internal/envd  from spec/envd/*.proto   (protoc-gen-go + protoc-gen-connect-go, through buf)
#   internal/api   from spec/openapi.yaml   (oapi-codegen, types only)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

PROTOC_GEN_GO_VERSION=v1.36.11
PROTOC_GEN_CONNECT_GO_VERSION=v1.19.1
OAPI_CODEGEN_VERSION=v2.8.2

bin="$root/build/bin"
mkdir -p "$bin"
GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
GOBIN="$bin" go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@$PROTOC_GEN_CONNECT_GO_VERSION"
GOBIN="$bin" go install "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$OAPI_CODEGEN_VERSION"

cd "$here"
rm -rf internal/envd
"$root/node_modules/.bin/buf" generate --template buf.gen.yaml
(cd internal/api && "$bin/oapi-codegen" -config oapi-codegen.yaml "$root/spec/openapi.yaml")
