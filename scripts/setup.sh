#!/usr/bin/env bash
# Installs everything Tensor Box needs on a fresh Debian machine and builds its native parts. Idempotent and quick when
# nothing changed: Debian packages (via packages/runtime/setup.sh, apt-get when root), npm dependencies, the web console,
# the compiled JavaScript of the TypeScript packages, the envd agent (Go) and the sandbox launcher (C). Messages go to
# stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages the runtime needs (mmdebstrap, iproute2, iptables, gcc, ...) and the launcher build.
if [ -f packages/runtime/setup.sh ]; then bash packages/runtime/setup.sh; fi

# npm dependencies: better-sqlite3 compiles against the system Node headers (no prebuilt download here).
stamp=node_modules/.tensor-box-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm dependencies"
  if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi

# The web console the server serves at / (packages/console/dist): rebuilt when its sources, the SDK (with its
# generated code) or the lock change.
if [ -f packages/console/package.json ]; then
  stamp=packages/console/dist/.tensor-box-src-hash
  want=$( { sha256sum package-lock.json; find packages/console -path packages/console/dist -prune -o -path packages/console/node_modules -prune \
    -o -type f -print0 | sort -z | xargs -0 sha256sum; find packages/sdk/src packages/generated/src -type f -print0 | sort -z \
    | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "building the web console"
    if npm run build --silent -w packages/console >&2; then echo "$want" > "$stamp"
    else say "the web console could not be built: / serves no console until it is (everything else works)"; fi
  fi
fi

# Compiled JavaScript (dist/) of the runtime and server (what `npm start` runs) and of the SDK and CLI (what `npm pack`
# ships): each rebuilt when its sources, its build config or the lock change. Tests and tsx runs use the sources.
build_package() { # <package dir> [more source dirs it bundles]
  local dir=$1 stamp=$1/dist/.tensor-box-src-hash want
  shift
  want=$( { sha256sum package-lock.json tsconfig.json; find "$dir/src" "$@" "$dir/package.json" "$dir/tsup.config.ts" \
    -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "building $dir"
  (cd "$dir" && ../../node_modules/.bin/tsup --silent >&2) && echo "$want" > "$stamp"
}
build_package packages/generated
build_package packages/runtime
build_package packages/server
build_package packages/sdk packages/generated/src packages/sdk/tsconfig.build.json
build_package packages/cli packages/sdk/src packages/generated/src

# The agent that runs inside every sandbox.
if [ -f packages/envd/build.sh ]; then bash packages/envd/build.sh >&2; fi
say "ready"
