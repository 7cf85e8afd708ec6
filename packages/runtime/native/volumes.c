/*
 * Volumes: host directories (a volume's file system, mounted once per node by the control plane) bound read-write
 * into a sandbox at a path of its own (`--volume HOST PATH`, repeatable). On the host, before the sandbox exists,
 * each directory becomes a detached mount (open_tree clone; idmapped through the sandbox's user namespace when it has
 * one, so the volume's root is the sandbox's root on every sandbox; nodev, nosuid). Create attaches them inside the
 * sandbox after pivot_root, so the sandbox path resolves in the sandbox's own tree: a symlink in an image cannot
 * point the mount at a host path. Restore stages them at `/run/tensor-box-volumes/<random>/vol-<i>` for CRIU, which
 * binds them back as the external mounts `vol-<i>` a checkpoint names (checkpoint.ts dumps them so); the staged
 * mounts go after the restore.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch.h"
#include "userns.h"

#define VOLUME_STAGE_DIR "/run/tensor-box-volumes"

/* A detached clone of path: idmapped through userns_fd (>= 0), nodev and nosuid. -1/errno on failure. */
static int detached_tree(const char *path, int userns_fd) {
  int fd = userns_fd >= 0 ? tb_idmapped_tree(path, userns_fd)
                          : (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) return -1;
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

const char *tb_volumes_open(struct opts *o, int userns_fd) {
  for (int i = 0; i < o->nvolumes; i++) {
    o->vol_fd[i] = detached_tree(o->vol_host[i], userns_fd);
    if (o->vol_fd[i] < 0) {
      int e = errno;
      for (int j = 0; j < i; j++) close(o->vol_fd[j]);
      errno = e;
      return o->vol_host[i];
    }
  }
  return NULL;
}

/* mkdir -p of an absolute path in the current root (components that exist are kept). 0 or -1/errno. */
static int mkdir_p(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return errno = ENAMETOOLONG, -1;
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p) continue;
    char c = *p;
    *p = 0;
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    *p = c;
    if (!c) return 0;
  }
}

void tb_volumes_attach(const struct opts *o) {
  for (int i = 0; i < o->nvolumes; i++) {
    const char *dst = o->vol_path[i];
    if (mkdir_p(dst) < 0) die("make volume mount point %s", dst);
    if (syscall(SYS_move_mount, o->vol_fd[i], "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
      die("mount volume at %s", dst);
    close(o->vol_fd[i]);
  }
}

/* Where restore stages the volumes: CRIU opens them from inside the restored user namespace (a host user there), so
   not under the sandbox's state dir (root only) but in a directory anyone may pass and no one but root may list,
   named at random (the staged mounts exist for the length of the restore). */
static char g_stage[128];

const char *tb_volumes_stage(const struct opts *o) {
  if (o->nvolumes == 0) return NULL;
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return "random name for the volumes' staging directory";
  if (mkdir(VOLUME_STAGE_DIR, 0711) < 0 && errno != EEXIST) return "make " VOLUME_STAGE_DIR;
  int n = snprintf(g_stage, sizeof g_stage, "%s/", VOLUME_STAGE_DIR);
  for (size_t i = 0; i < sizeof rnd; i++) n += snprintf(g_stage + n, sizeof g_stage - (size_t)n, "%02x", rnd[i]);
  if (mkdir(g_stage, 0711) < 0) return "make the volumes' staging directory";
  char dst[256];
  for (int i = 0; i < o->nvolumes; i++) {
    snprintf(dst, sizeof dst, "%s/vol-%d", g_stage, i);
    if (mkdir(dst, 0700) < 0) return "make a volume's staging directory";
    if (syscall(SYS_move_mount, o->vol_fd[i], "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return "stage a volume for the restore";
    close(o->vol_fd[i]);
  }
  return NULL;
}

const char *tb_volumes_staged(int i) {
  static char path[256];
  snprintf(path, sizeof path, "%s/vol-%d", g_stage, i);
  return path;
}

void tb_volumes_unstage(const struct opts *o) {
  if (!g_stage[0]) return;
  for (int i = 0; i < o->nvolumes; i++) {
    umount2(tb_volumes_staged(i), MNT_DETACH);
    rmdir(tb_volumes_staged(i));
  }
  rmdir(g_stage);
}
