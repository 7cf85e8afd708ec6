#!/usr/bin/env bash
# Prepares what the microvm driver boots, once per kernel version, into the shared cache:
#   $TENSOR_BOX_CACHE_DIR/microvm/guest-<kernel>/{vmlinuz, base.cpio.gz}  and the symlink  .../microvm/guest -> it
# The kernel is Debian's cloud kernel (the package is fetched and unpacked, not installed); base.cpio.gz holds a static
# busybox, the virtio/overlay modules and guest-init.sh as /init. The driver appends envd and tb-init to it at start-up.
set -euo pipefail
say() { printf '[microvm] %s\n' "$*" >&2; }
here=$(cd "$(dirname "$0")" && pwd)
cache=${TENSOR_BOX_CACHE_DIR:-/var/cache/tensor-box}/microvm
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$pkg" ] || { say "no linux-image-cloud-amd64 in the package lists (apt-get update?)"; exit 1; }
kver=${pkg#linux-image-}
out=$cache/guest-$kver
# The initramfs also depends on guest-init.sh: rebuild when it changed.
stamp=$(sha256sum "$here/guest-init.sh" "$0" | sha256sum | cut -c1-16)
if [ -f "$out/base.cpio.gz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  ln -sfn "guest-$kver" "$cache/guest"
  exit 0
fi
command -v busybox >/dev/null || { say "busybox (busybox-static) is missing"; exit 1; }
say "preparing the guest kernel $kver and initramfs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1) || { apt-get update -q >/dev/null 2>&1; (cd "$work" && apt-get download -q "$pkg" >/dev/null); }
dpkg-deb -x "$work"/*.deb "$work/x"
mkdir -p "$work/root/bin" "$work/root/lib/modules" "$work/root/agent" "$work/root/proc" "$work/root/sys" "$work/root/dev"
cp "$(command -v busybox)" "$work/root/bin/busybox"
for m in virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net overlay; do
  f=$(find "$work/x/lib/modules/$kver" -name "$m.ko*" | head -1)
  [ -n "$f" ] || { say "module $m not in $pkg"; exit 1; }
  case $f in *.xz) xz -dc "$f" >"$work/root/lib/modules/$m.ko" ;; *) cp "$f" "$work/root/lib/modules/$m.ko" ;; esac
done
install -m 0755 "$here/guest-init.sh" "$work/root/init"
mkdir -p "$out.tmp"
cp "$work/x/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp/base.cpio.gz"
echo "$stamp" >"$out.tmp/stamp"
rm -rf "$out" && mv "$out.tmp" "$out"
ln -sfn "guest-$kver" "$cache/guest"
say "guest ready in $out"
