#!/bin/busybox sh
# PID 1 of a microvm guest's initramfs (built by build-guest.sh; the driver appends envd and tb-init as agent.cpio).
# Loads the virtio modules, mounts the template layers (read-only disks, serial tblayer<N>, topmost first) under an
# overlay whose upper dir lives on the sandbox's writable disk (serial tbdisk), sets the fixed guest address
# 10.0.2.2/30 (the sandbox's netns DNATs its own address to it), then switch_roots into tb-init -> envd.
# Kernel command line: tb.layers=<count> tb.hostname=<name>. Any failure powers the VM off (the host sees the exit).
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "tb-guest: $*" >/dev/console; poweroff -f; }
mount -t proc proc /proc && mount -t sysfs sys /sys && mount -t devtmpfs dev /dev || fail "early mounts"
# The driver's start-up probe (does `-accel kvm` run a stock guest here?): say so and stop.
grep -q tb.probe /proc/cmdline && { echo tb-probe-ok >/dev/console; poweroff -f; }
for m in virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net overlay; do
  insmod /lib/modules/$m.ko 2>/dev/null || grep -q "^$m " /proc/modules || fail "module $m"
done
layers=0; host=sandbox
for arg in $(cat /proc/cmdline); do
  case $arg in tb.layers=*) layers=${arg#tb.layers=} ;; tb.hostname=*) host=${arg#tb.hostname=} ;; esac
done
# virtio-blk disks by serial (probe order is not the command line's order).
dev_of() {
  for s in /sys/block/vd*/serial; do
    [ "$(cat "$s" 2>/dev/null)" = "$1" ] && { d=${s%/serial}; echo "/dev/${d##*/}"; return 0; }
  done
  return 1
}
i=0; lower=
while [ $i -lt "$layers" ]; do
  mkdir -p /layers/$i
  d=$(dev_of tblayer$i) || fail "no disk tblayer$i"
  mount -t ext4 -o ro,noload "$d" /layers/$i || fail "mount layer $i"
  lower="$lower${lower:+:}/layers/$i"; i=$((i + 1))
done
mkdir -p /rw /newroot
d=$(dev_of tbdisk) || fail "no writable disk"
mount -t ext4 "$d" /rw || fail "mount writable disk"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o "lowerdir=$lower,upperdir=/rw/upper,workdir=/rw/work" /newroot || fail "overlay"
mkdir -p /newroot/run /newroot/proc /newroot/sys /newroot/dev
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mkdir -p /newroot/run/tensor-box
cp /agent/envd /agent/tb-init /newroot/run/tensor-box/ || fail "agent"
chmod 0755 /newroot/run/tensor-box/*
mount --move /dev /newroot/dev && mount --move /proc /newroot/proc && mount --move /sys /newroot/sys || fail "move"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /newroot/dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /newroot/dev/shm
hostname "$host"
ip link set lo up && ip link set eth0 up && ip addr add 10.0.2.2/30 dev eth0 && ip route add default via 10.0.2.1 ||
  fail "network"
exec switch_root /newroot /run/tensor-box/tb-init 3 /run/tensor-box/envd 3>/dev/null
