#!/usr/bin/env bash
# Builds the native sandbox launcher into <repo>/build/tb-launch (static, so it also runs inside sandboxes as tb-init)
# from every native/*.c but the profile compiler (native/launch.h lists the parts and what each does).
# First the seccomp profile of this machine's architecture (seccomp/<arch>.profile) is compiled to BPF with libseccomp
# (native/seccomp-compile.c) into build/gen/seccomp-filter.h, which the launcher embeds. Supported: x86_64 (another
# architecture needs its own seccomp/<arch>.profile, named as `uname -m` says, e.g. aarch64.profile).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build"
out="$build/tb-launch"
arch="$(uname -m)"
profile="$here/seccomp/$arch.profile"
if [ ! -f "$profile" ]; then
  echo "build: no seccomp profile for $arch (packages/runtime/seccomp/$arch.profile)" >&2
  exit 1
fi
mkdir -p "$build/gen"
srcs=()
for f in "$here"/native/*.c; do [ "$(basename "$f")" = seccomp-compile.c ] || srcs+=("$f"); done
stale=0
[ -x "$out" ] || stale=1
for f in "$here"/native/*.c "$here"/native/*.h "$profile" "$0"; do [ "$f" -nt "$out" ] && stale=1; done
if [ "$stale" = 1 ]; then
  gcc -O2 -Wall -Wextra -Werror -o "$build/seccomp-compile" "$here/native/seccomp-compile.c" -lseccomp
  "$build/seccomp-compile" "$profile" "$build/gen/seccomp-filter.h"
  gcc -O2 -Wall -Wextra -Werror -static -I "$build/gen" -o "$out.tmp" "${srcs[@]}"
  mv "$out.tmp" "$out"
fi
