#!/usr/bin/env bash
# CRIU for pause/resume with memory and processes. Debian bookworm's CRIU 3.17 cannot dump on kernels >= 6.13 and trixie's
# 4.1 fails on TCP/UDP sockets since 6.16 (see docs/design.md), so we build 4.2.1 from Debian's source package (sid).
# Our patches (patches/*.patch) are applied on top: e.g. reading rlimits from /proc when the host root lacks
# CAP_SYS_RESOURCE (as on these machines). Result: <repo>/build/criu. The built binary is cached in
# $TENSOR_BOX_CACHE_DIR/criu-<version>-<patch hash>/ so clones reuse it.
set -euo pipefail
say() { printf '[setup] %s\n' "$*" >&2; }
VERSION=4.2.1
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="$repo/build/criu"
# RUNDIR: CRIU keeps its kernel-feature cache (criu.kdat) only on a tmpfs; /run is not one on every host, /dev/shm is.
# Without the cache every dump and restore probes the kernel again (~40 ms, e.g. a throwaway netns with a veth).
make_flags=(RUNDIR=/dev/shm)
patches=$( (cat "$here"/patches/*.patch 2>/dev/null; echo "${make_flags[*]}") | sha256sum | cut -c1-12)
cache="${TENSOR_BOX_CACHE_DIR:-/var/cache/tensor-box}/criu-$VERSION-$patches"
if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$VERSION-$patches" ]; then exit 0; fi
mkdir -p "$repo/build"
if [ -x "$cache/criu" ]; then cp "$cache/criu" "$out"; echo "$VERSION-$patches" > "$out.stamp"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then say "CRIU $VERSION is needed for pause/resume; run setup as root to build it"; exit 1; fi

deps=(libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf libnl-3-dev
  libnl-route-3-dev libcap-dev libnet1-dev pkg-config libbsd-dev libgnutls28-dev libnftables-dev uuid-dev libdrm-dev
  xz-utils make gcc patch)
missing=()
for d in "${deps[@]}"; do dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing CRIU build dependencies: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The source comes from the same Debian mirror apt already uses, through a private apt config (sid's deb-src only).
mirror=$(grep -hoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb\s+\S+' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb-src $mirror sid main" > "$work/sources.list"
apt_opts=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$work/lists"
  -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root)
say "fetching CRIU $VERSION source"
apt-get "${apt_opts[@]}" update -q >/dev/null 2>&1
# Only the upstream tarball is needed (the Debian revision's own tarball may be missing from the mirror).
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only "criu=$VERSION-1" >/dev/null 2>&1 || true)
tarball="$work/criu_$VERSION.orig.tar.xz"
[ -f "$tarball" ] || { say "could not download criu_$VERSION.orig.tar.xz from $mirror"; exit 1; }
tar -C "$work" -xf "$tarball"
for p in "$here"/patches/*.patch; do
  [ -f "$p" ] && patch -d "$work/criu-$VERSION" -p1 -s < "$p"
done
say "building CRIU $VERSION (about half a minute)"
make -C "$work/criu-$VERSION" -j"$(nproc)" "${make_flags[@]}" criu >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
mkdir -p "$cache"
cp "$work/criu-$VERSION/criu/criu" "$cache/criu"
cp "$cache/criu" "$out"
echo "$VERSION-$patches" > "$out.stamp"
"$out" check >/dev/null 2>&1 && say "CRIU $VERSION ready" || say "CRIU $VERSION built; 'criu check' reports problems on this kernel"
