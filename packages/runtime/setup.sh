#!/usr/bin/env bash
# Debian packages the container runtime needs, then the native launcher. Installs with apt-get when root and missing;
# otherwise says what is missing and stops.
set -euo pipefail
say() { printf '[setup] %s\n' "$*" >&2; }
need=()
# glusterfs-server/-client: the shared store of tests/cluster.test.ts (this kernel has no NFS client or server).
for pair in mmdebstrap:mmdebstrap ip:iproute2 iptables:iptables gcc:gcc du:coreutils nsenter:util-linux tmux:tmux curl:curl \
  zstd:zstd setfattr:attr openssl:openssl docker-registry:docker-registry skopeo:skopeo umoci:umoci htpasswd:apache2-utils chromium:chromium \
  mkfs.ext4:e2fsprogs losetup:mount busybox:busybox-static nft:nftables qemu-system-x86_64:qemu-system-x86 cpio:cpio \
  glusterd:glusterfs-server mount.glusterfs:glusterfs-client; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
[ -f /usr/include/linux/seccomp.h ] || need+=(linux-libc-dev)
# libseccomp compiles the seccomp profile (seccomp/<arch>.profile) to the BPF the launcher embeds.
[ -f /usr/include/seccomp.h ] || need+=(libseccomp-dev)
# PostgreSQL's server binaries: the PostgreSQL store tests start a private server of their own from them.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${need[*]} — run as root, or: sudo apt-get install ${need[*]}"
    exit 1
  fi
  say "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
  # Debian's postinst makes and starts a system cluster that nothing here uses (the tests start their own): stop it.
  if [[ " ${need[*]} " == *" postgresql "* ]]; then service postgresql stop >/dev/null 2>&1 || true; fi
fi
bash "$(dirname "$0")/build.sh"
# CRIU for pause/resume (built once from Debian's source, then cached). Without it everything else still works.
bash "$(dirname "$0")/criu/build.sh" || say "CRIU could not be built: pause, resume and snapshots will answer 409 until it is"
# The microvm driver's guest kernel and initramfs (Debian's cloud kernel, unpacked into the cache). Without it the
# container driver still works; microvm sandboxes answer that the guest is missing.
bash "$(dirname "$0")/microvm/build-guest.sh" || say "the microVM guest could not be prepared: the microvm driver is unavailable"
