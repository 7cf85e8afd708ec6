#!/usr/bin/env bash
# Regenerates every generated file from spec/: REST types (openapi-typescript) for the server and the SDK, envd protocol
# code for the SDK (protoc-gen-es) and for envd (packages/envd/gen.sh). `scripts/gen.sh --check` fails when the committed
# generated files differ from what the spec produces.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
"$bin/openapi-typescript" spec/openapi.yaml --default-non-nullable false -o packages/sdk/src/api/schema.gen.ts >/dev/null
cp packages/sdk/src/api/schema.gen.ts packages/server/src/api/schema.gen.ts
"$bin/buf" generate --template buf.gen.ts.yaml
[ -x packages/envd/gen.sh ] && bash packages/envd/gen.sh
if [ "${1:-}" = "--check" ]; then
  if ! git diff --quiet -- packages/sdk/src/api packages/server/src/api packages/sdk/src/envd packages/server/src/envd packages/envd/gen; then
    echo "generated files are out of date with spec/: run npm run gen" >&2
    git diff --stat -- packages/sdk/src/api packages/server/src/api packages/sdk/src/envd packages/server/src/envd packages/envd/gen >&2
    exit 1
  fi
fi
