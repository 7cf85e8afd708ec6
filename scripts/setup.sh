#!/usr/bin/env bash
# Installs everything Tensor Box needs on a fresh Debian machine and builds its native parts. Idempotent and quick when
# nothing changed: Debian packages (via packages/runtime/setup.sh, apt-get when root), npm dependencies, the envd agent
# (Go) and the sandbox launcher (C). Messages go to stderr.
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

# The agent that runs inside every sandbox.
if [ -f packages/envd/build.sh ]; then bash packages/envd/build.sh >&2; fi
say "ready"
