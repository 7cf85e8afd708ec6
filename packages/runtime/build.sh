#!/usr/bin/env bash
# Builds the native sandbox launcher into <repo>/build/tb-launch (static, so it also runs inside sandboxes as tb-init).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../build/tb-launch"
src="$here/native/tb-launch.c"
mkdir -p "$(dirname "$out")"
if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
  gcc -O2 -Wall -Wextra -Werror -static -o "$out.tmp" "$src"
  mv "$out.tmp" "$out"
fi
