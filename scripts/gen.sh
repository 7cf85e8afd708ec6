#!/usr/bin/env bash
# Regenerates every generated file from spec/: REST types (openapi-typescript) written once into the workspace package
# packages/generated for the server and the SDK, envd protocol code for the SDK and the server (protoc-gen-es), envd's
# route table, port and version for the server and for envd (scripts/gen-envd-routes.ts), envd's Go code
# (packages/envd/gen.sh) and the Go SDK's envd stubs (sdks/go/gen.sh).
# `scripts/gen.sh --check` fails when the committed generated files differ from what the spec produces (or a
# generated file is missing from git).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
# One copy of the REST types for the server and the SDK (both import @tensor-box/generated/api).
"$bin/openapi-typescript" spec/openapi.yaml --default-non-nullable false -o packages/generated/src/api.gen.ts >/dev/null
"$bin/openapi-typescript" spec/volume-content.yaml --default-non-nullable false \
  -o packages/generated/src/volume-content.gen.ts >/dev/null
"$bin/openapi-typescript" spec/envd/envd.yaml --default-non-nullable false -o packages/generated/src/envd.gen.ts >/dev/null
"$bin/buf" generate --template buf.gen.ts.yaml
"$bin/tsx" scripts/gen-envd-routes.ts packages/server/src/envd/spec.gen.ts packages/envd/internal/spec/spec.gen.go
gofmt -w packages/envd/internal/spec/spec.gen.go
[ -x packages/envd/gen.sh ] && bash packages/envd/gen.sh
bash sdks/go/gen.sh
generated=(packages/generated/src packages/sdk/src/api packages/server/src/api packages/sdk/src/envd packages/server/src/envd packages/envd/gen
  packages/envd/internal/spec sdks/go/internal/envd sdks/go/internal/api packages/runtime/src/envd-port.gen.ts
  packages/runtime/native/envd-port.gen.h packages/console/src/lib/envd-port.gen.ts sdks/go/envd_port.gen.go
  sdks/python/tensor_box/envd/port_gen.py)
if [ "${1:-}" = "--check" ]; then
  untracked="$(git ls-files --others --exclude-standard -- "${generated[@]}")"
  if ! git diff --quiet -- "${generated[@]}" || [ -n "$untracked" ]; then
    echo "generated files are out of date with spec/: run npm run gen" >&2
    git diff --stat -- "${generated[@]}" >&2
    [ -z "$untracked" ] || echo "not in git: $untracked" >&2
    exit 1
  fi
fi
