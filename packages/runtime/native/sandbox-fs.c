/*
 * The parts of a sandbox's file system view that keep the host out of it (see sandbox-fs.h):
 *
 * - The overlay root is mounted from /proc/self/fd/N paths of descriptors on its layers, so the options the kernel
 *   shows in the sandbox's /proc/self/mountinfo (lowerdir=, upperdir=, workdir=) name no host path.
 * - /run/tensor-box, where envd and tb-init are bind-mounted, is a read-only mount point of its own: a mount point
 *   cannot be renamed or removed (EBUSY), so root inside cannot move the agent's mounts away (CRIU, which pauses the
 *   sandbox, needs them where they were made).
 * - Host inventories are masked: block devices (/sys/block & co., /proc/partitions, /proc/diskstats — the loop
 *   devices there name other sandboxes' disk images), the physical device tree, firmware tables and swap files.
 *   Directories get a read-only bind of /run/tensor-box/empty, files one of the sandbox's own /dev/null.
 * - /proc/sys/kernel/random/boot_id is the sandbox's own (/run/tensor-box/boot_id, made per boot), not the host's.
 */
#define _GNU_SOURCE
#include "sandbox-fs.h"
#include "userns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LAYERS 128

/* A descriptor on one lower layer: the directory itself, or with a user namespace an idmapped clone (userns.c). */
static int open_layer(const char *path, int userns_fd) {
  return userns_fd < 0 ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : tb_idmapped_tree(path, userns_fd);
}

int tb_mount_overlay(const char *merged, const char *lower, const char *upper, const char *work,
                     unsigned long flags, int userns_fd) {
  int fds[MAX_LAYERS + 2], n = 0, rc = -1, tree = -1;
  char data[8192], list[4096];
  size_t used = 0;
  char copy[8192];
  if (snprintf(copy, sizeof copy, "%s", lower) >= (int)sizeof copy) return errno = ENAMETOOLONG, -1;
  list[0] = 0;
  for (char *save = NULL, *l = strtok_r(copy, ":", &save); l; l = strtok_r(NULL, ":", &save)) {
    if (n == MAX_LAYERS) { errno = E2BIG; goto out; }
    if ((fds[n] = open_layer(l, userns_fd)) < 0) goto out;
    used += (size_t)snprintf(list + used, sizeof list - used, "%s/proc/self/fd/%d", n ? ":" : "", fds[n]);
    n++;
    if (used >= sizeof list) { errno = ENAMETOOLONG; goto out; }
  }
  if (userns_fd < 0) {
    if ((fds[n] = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) goto out;
    n++;
    if ((fds[n] = open(work, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) goto out;
    n++;
  } else {
    /* Upper and work dirs must be on one mount: one idmapped clone of their common parent. */
    const char *us = strrchr(upper, '/'), *ws = strrchr(work, '/');
    if (!us || !ws || us - upper != ws - work || strncmp(upper, work, (size_t)(us - upper))) {
      errno = EINVAL;
      goto out;
    }
    char parent[4096];
    snprintf(parent, sizeof parent, "%.*s", (int)(us - upper), upper);
    /* The clone lives (in its anonymous mount namespace) while its own descriptor is open: kept until the mount. */
    if ((tree = tb_idmapped_tree(parent[0] ? parent : "/", userns_fd)) < 0) goto out;
    if ((fds[n] = openat(tree, us + 1, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) goto out;
    n++;
    if ((fds[n] = openat(tree, ws + 1, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) goto out;
    n++;
  }
  snprintf(data, sizeof data, "lowerdir=%s,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d", list, fds[n - 2],
           fds[n - 1]);
  rc = mount("overlay", merged, "overlay", flags, data);
out:;
  int e = errno;
  while (n > 0) close(fds[--n]);
  if (tree >= 0) close(tree);
  errno = e;
  return rc;
}

static int create_stub(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0755);
  return fd < 0 ? -1 : close(fd);
}

static int bind_ro(const char *src, const char *dst, unsigned long extra) {
  if (mount(src, dst, NULL, MS_BIND, NULL) < 0) return -1;
  return mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV | MS_NOSUID | extra, NULL);
}

/* This boot's ID: a fresh random UUID (the kernel makes one per read of random/uuid), kept in the sandbox's /run
   tmpfs, so a checkpoint carries it (a restore is the same boot) and a new boot (create, filesystem-only resume) gets
   a new one. */
static int write_boot_id(const char *path) {
  char id[64];
  int in = open("proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  ssize_t n = read(in, id, sizeof id - 1);
  close(in);
  if (n <= 0) return -1;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) return -1;
  ssize_t w = write(fd, id, (size_t)n);
  close(fd);
  return w == n ? 0 : -1;
}

const char *tb_mount_agent(const char *run_dir, const char *agent, const char *init) {
  static char envd[512], tbinit[512];
  snprintf(envd, sizeof envd, "%s/envd", run_dir);
  snprintf(tbinit, sizeof tbinit, "%s/tb-init", run_dir);
  if (mkdir(run_dir, 0755) < 0 && errno != EEXIST) return run_dir;
  if (create_stub(envd) < 0) return envd;
  if (create_stub(tbinit) < 0) return tbinit;
  static char empty[512];
  snprintf(empty, sizeof empty, "%s/empty", run_dir);
  if (mkdir(empty, 0555) < 0 && errno != EEXIST) return empty;
  static char boot_id[512];
  snprintf(boot_id, sizeof boot_id, "%s/boot_id", run_dir);
  if (write_boot_id(boot_id) < 0) return boot_id;
  /* The directory first (a bind of itself), then the binaries onto its stubs, then the directory read-only. */
  if (mount(run_dir, run_dir, NULL, MS_BIND, NULL) < 0) return run_dir;
  if (bind_ro(agent, envd, 0) < 0) return envd;
  if (bind_ro(init, tbinit, 0) < 0) return tbinit;
  if (mount(NULL, run_dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV | MS_NOSUID, NULL) < 0) return run_dir;
  return NULL;
}

/* Every masked directory is a read-only bind of one empty directory in the sandbox's own /run tmpfs: binds cost a
   pause next to nothing, while each tmpfs of its own would cost CRIU a tar process at dump and at restore. */
static int mask_dir(const char *empty, const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) return 0; /* not on this kernel: nothing to hide */
  if (mount(empty, path, NULL, MS_BIND, NULL) < 0) return -1;
  return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

static int mask_file(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) return 0;
  return mount("dev/null", path, NULL, MS_BIND, NULL);
}

/* /sys/devices keeps `system` (CPUs, memory, NUMA nodes: libc and runtimes read them) and `virtual` (the sandbox's
   own network devices live there); the rest is the host's hardware. */
static const char *const kept_devices[] = {"system", "virtual"};

const char *tb_mask_host_views(const char *empty) {
  static const char *const dirs[] = {
    "sys/block", "sys/class/block", "sys/dev/block", "sys/devices/virtual/block", "sys/devices/virtual/dmi",
    "sys/devices/virtual/powercap", "sys/firmware", "proc/acpi", "proc/asound", "proc/scsi", "proc/fs", "proc/driver",
  };
  static const char *const files[] = {
    "proc/sysrq-trigger", "proc/kcore", "proc/keys", "proc/timer_list", "proc/partitions", "proc/diskstats",
    "proc/swaps", "proc/sched_debug", "proc/modules", "proc/vmallocinfo", "proc/mtrr",
  };
  static char failed[300];
  /* The host's boot ID would name the host (and tell tenants they share it); the sandbox sees its own boot's. */
  snprintf(failed, sizeof failed, "%.280s/../boot_id", empty);
  static const char bid[] = "proc/sys/kernel/random/boot_id";
  if (mount(failed, bid, NULL, MS_BIND, NULL) < 0) return bid;
  if (mount(NULL, bid, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) return bid;
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if (mask_dir(empty, dirs[i]) < 0) return dirs[i];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (mask_file(files[i]) < 0) return files[i];
  DIR *d = opendir("sys/devices");
  if (!d) return "sys/devices";
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    int keep = 0;
    for (size_t i = 0; i < sizeof kept_devices / sizeof kept_devices[0]; i++)
      keep |= !strcmp(e->d_name, kept_devices[i]);
    if (keep) continue;
    snprintf(failed, sizeof failed, "sys/devices/%s", e->d_name);
    if (mask_dir(empty, failed) < 0) {
      closedir(d);
      return failed;
    }
  }
  closedir(d);
  return NULL;
}
