/*
 * The sandbox's file systems. On the host: its disk (an ext4 image, a sparse copy of a formatted blank when
 * --disk-blank is given, on a loop device with autoclear, so it goes away with the last unmount) and the overlay root
 * over the template layers (idmapped through the sandbox's user namespace when it has one; sandbox-fs.c). Inside the
 * new mount namespace, before pivot_root: the mount points an image may lack, proc (its sys read-only), sysfs, a
 * minimal /dev, /run with envd and tb-init bound read-only, the host inventories masked, and /etc/{hosts,hostname,
 * resolv.conf}. Everything here dies with one line on stderr when a step fails, having undone its host mounts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "launch.h"
#include "sandbox-fs.h"
#include "userns.h"

void tb_mk(const char *path, mode_t mode) {
  if (mkdir(path, mode) < 0 && errno != EEXIST) die("mkdir %s", path);
}

void tb_mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die("mount %s on %s", type ? type : src ? src : "(null)", dst);
}

static const struct { unsigned maj, min; } dev_numbers[TB_NDEVS] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}};
const char *const tb_dev_names[TB_NDEVS] = {"dev/null", "dev/zero", "dev/full", "dev/random", "dev/urandom", "dev/tty"};

/* The sandbox's device nodes: made here, or in a user namespace (no mknod there) binds of the host's own nodes, which
   a checkpoint names as external mounts `dev-<name>` (container.ts dumps them so). */
static void setup_dev(int userns) {
  tb_mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  for (size_t i = 0; i < TB_NDEVS; i++) {
    const char *name = tb_dev_names[i];
    if (userns) {
      if (create_file(name, "", 0666) < 0) die("stub %s", name);
      char host[32];
      snprintf(host, sizeof host, "/%s", name);
      tb_mnt(host, name, NULL, MS_BIND, NULL);
      continue;
    }
    if (mknod(name, S_IFCHR | 0666, makedev(dev_numbers[i].maj, dev_numbers[i].min)) < 0) die("mknod %s", name);
    chmod(name, 0666);
  }
  tb_mk("dev/pts", 0755);
  tb_mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  if (symlink("pts/ptmx", "dev/ptmx") < 0) die("symlink ptmx");
  tb_mk("dev/shm", 01777);
  tb_mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
  tb_mk("dev/mqueue", 0755);
  symlink("/proc/self/fd", "dev/fd");
  symlink("/proc/self/fd/0", "dev/stdin");
  symlink("/proc/self/fd/1", "dev/stdout");
  symlink("/proc/self/fd/2", "dev/stderr");
}

/* /etc/hosts and /etc/hostname for hn, and the host's resolver config when one is given. */
static void write_etc(const char *hn, const char *resolv_conf) {
  char hosts[512];
  snprintf(hosts, sizeof hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", hn);
  unlink("etc/hosts");
  if (create_file("etc/hosts", hosts, 0644) < 0) die("write /etc/hosts");
  char hn_line[300];
  snprintf(hn_line, sizeof hn_line, "%s\n", hn);
  unlink("etc/hostname");
  create_file("etc/hostname", hn_line, 0644);
  if (!resolv_conf) return;
  int in = open(resolv_conf, O_RDONLY | O_CLOEXEC);
  if (in < 0) return;
  char buf[4096];
  ssize_t n = read(in, buf, sizeof buf - 1);
  close(in);
  if (n < 0) return;
  buf[n] = 0;
  unlink("etc/resolv.conf");
  create_file("etc/resolv.conf", buf, 0644);
}

void tb_populate_root(const struct opts *o, const char *hn, const char *agent, const char *self) {
  /* Images built FROM scratch may lack the mount points and /etc (they land in the writable layer). */
  tb_mk("proc", 0555);
  tb_mk("sys", 0555);
  tb_mk("dev", 0755);
  tb_mk("run", 0755);
  tb_mk("etc", 0755);
  tb_mk("tmp", 01777);
  tb_mnt("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  /* Hide the proc files that reach the host kernel. */
  tb_mnt("proc/sys", "proc/sys", NULL, MS_BIND | MS_REC, NULL);
  tb_mnt(NULL, "proc/sys", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  tb_mnt("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  setup_dev(o->uid_count > 0);
  tb_mnt("tmpfs", "run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k");
  tb_mk("run/lock", 01777);
  const char *bad = tb_mount_agent(REL_RUN_DIR, agent, self);
  if (bad) die("mount %s", bad);
  /* Masks come from the sandbox's own /dev/null and /run/tensor-box/empty (not the host's), so a checkpoint has no
     host mount in it. */
  if ((bad = tb_mask_host_views(REL_RUN_DIR "/empty"))) die("mask %s", bad);
  write_etc(hn, o->resolv_conf);
}

void tb_pivot_root(void) {
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) die("detach old root");
  if (chdir("/") < 0) die("chdir /");
}

/* ---------- host side ---------- */

/* The disk mounted by this launch (or named to cleanup): detached with the overlay above it. */
static const char *g_disk_mount;

void tb_set_disk_mount(const char *disk_mount) { g_disk_mount = disk_mount; }

void tb_cleanup_mounts(const char *merged, const char *netns_file) {
  if (netns_file) umount2(netns_file, MNT_DETACH);
  if (merged) umount2(merged, MNT_DETACH);
  if (g_disk_mount) umount2(g_disk_mount, MNT_DETACH);
}

/* Copies a sparse file keeping its holes (SEEK_DATA/SEEK_HOLE): a formatted blank disk is a few MB of data. */
static int sparse_copy(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) { close(in); return -1; }
  struct stat st;
  int rc = fstat(in, &st) < 0 || ftruncate(out, st.st_size) < 0 ? -1 : 0;
  off_t pos = 0;
  while (rc == 0 && pos < st.st_size) {
    off_t data = lseek(in, pos, SEEK_DATA);
    if (data < 0) { if (errno != ENXIO) rc = -1; break; }
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0) { rc = -1; break; }
    loff_t src = data, dst = data;
    while (src < hole) {
      ssize_t n = copy_file_range(in, &src, out, &dst, (size_t)(hole - src), 0);
      if (n <= 0) { rc = -1; break; }
    }
    pos = hole;
  }
  int e = errno;
  close(in);
  if (close(out) < 0 && rc == 0) rc = -1;
  if (rc < 0) { unlink(to); errno = e; }
  return rc;
}

/* Attaches the disk image to a free loop device (autoclear) and mounts it; makes the overlay's upper and work dirs. */
static void mount_disk(struct opts *o) {
  if (o->disk_blank && sparse_copy(o->disk_blank, o->disk_image) < 0) die("copy blank disk %s", o->disk_blank);
  int img = open(o->disk_image, O_RDWR | O_CLOEXEC);
  if (img < 0) die("open disk %s", o->disk_image);
  int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) die("open /dev/loop-control");
  char dev[64];
  int mounted = 0;
  for (int attempt = 0; attempt < 50 && !mounted; attempt++) {
    int n = ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) die("no free loop device");
    snprintf(dev, sizeof dev, "/dev/loop%d", n);
    int lfd = open(dev, O_RDWR | O_CLOEXEC);
    if (lfd < 0) { if (errno == ENOENT) { usleep(1000); continue; } die("open %s", dev); }
    struct loop_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fd = (unsigned)img;
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
      int e = errno;
      close(lfd);
      if (e == EBUSY) continue; /* another process took it first */
      errno = e;
      die("configure %s", dev);
    }
    /* Only the overlay above it is the sandbox's view: no device node or setuid bit acts from the disk itself. */
    if (mount(dev, o->disk_mount, "ext4", MS_NOATIME | MS_NODEV | MS_NOSUID, "discard,noinit_itable") < 0) {
      int e = errno;
      ioctl(lfd, LOOP_CLR_FD, 0);
      close(lfd);
      errno = e;
      die("mount disk %s", o->disk_image);
    }
    close(lfd); /* the mount holds the device now; autoclear detaches it after the last unmount */
    mounted = 1;
  }
  close(ctl);
  close(img);
  if (!mounted) die("no free loop device for %s", o->disk_image);
  g_disk_mount = o->disk_mount;
  char path[4096];
  snprintf(path, sizeof path, "%s/upper", o->disk_mount);
  if (mkdir(path, 0755) < 0 && errno != EEXIST) { tb_cleanup_mounts(NULL, NULL); die("mkdir %s", path); }
  snprintf(path, sizeof path, "%s/work", o->disk_mount);
  if (mkdir(path, 0755) < 0 && errno != EEXIST) { tb_cleanup_mounts(NULL, NULL); die("mkdir %s", path); }
}

void tb_mount_root(struct opts *o) {
  static char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl < 0) die("readlink /proc/self/exe");
  self[sl] = 0;
  o->self = self;
  if (o->disk_image && o->disk_mount) mount_disk(o);
  /* nodev: a device node in a layer is inert; setuid stays (the default template's sudo needs it). */
  int userns_fd = o->uid_count ? tb_userns_open(o->uid_base, o->uid_count) : -1;
  if (o->uid_count && userns_fd < 0) {
    int e = errno;
    tb_cleanup_mounts(NULL, NULL);
    errno = e;
    die("make a user namespace for the idmapped layers");
  }
  int rc = userns_fd >= 0 && tb_fs_ids(o->uid_base) < 0
               ? -1
               : tb_mount_overlay(o->merged, o->lower, o->upper, o->work, MS_NODEV, userns_fd);
  if (userns_fd >= 0) {
    int e = errno;
    if (tb_fs_ids(0) < 0) die("file system IDs back to root");
    errno = e;
  }
  /* The volumes' directories are walked as root (fs IDs back to 0): they live under root-only directories. */
  const char *bad_volume = rc < 0 ? NULL : tb_volumes_open(o, userns_fd);
  if (userns_fd >= 0) {
    int e = errno;
    close(userns_fd);
    errno = e;
  }
  if (rc < 0 || bad_volume) {
    int e = errno;
    if (bad_volume) umount2(o->merged, MNT_DETACH);
    tb_cleanup_mounts(NULL, NULL);
    errno = e;
    if (bad_volume) die("open volume %s", bad_volume);
    die("mount overlay on %s", o->merged);
  }
}
