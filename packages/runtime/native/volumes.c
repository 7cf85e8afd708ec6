/*
 * Volumes: host directories (a volume's file system, mounted once per node by the control plane) bound read-write
 * into a sandbox at a path of its own (`--volume HOST PATH`, repeatable). On the host, before the sandbox exists,
 * each directory becomes a detached mount (open_tree clone; idmapped through the sandbox's user namespace when it has
 * one, so the volume's root is the sandbox's root on every sandbox; nodev, nosuid). Create attaches them inside the
 * sandbox after pivot_root, so the sandbox path resolves in the sandbox's own tree: a symlink in an image cannot
 * point the mount at a host path. Restore stages them at `<criu-work>/vol-<i>` for CRIU, which binds them back as the
 * external mounts `vol-<i>` a checkpoint names (checkpoint.ts dumps them so); the staged mounts go after the restore.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch.h"
#include "userns.h"

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

const char *tb_volumes_stage(const struct opts *o) {
  char dst[4200];
  for (int i = 0; i < o->nvolumes; i++) {
    snprintf(dst, sizeof dst, "%s/vol-%d", o->criu_work, i);
    if (mkdir(dst, 0700) < 0 && errno != EEXIST) return "make a volume's staging directory";
    if (syscall(SYS_move_mount, o->vol_fd[i], "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return "stage a volume for the restore";
    close(o->vol_fd[i]);
  }
  return NULL;
}

void tb_volumes_unstage(const struct opts *o) {
  char dst[4200];
  for (int i = 0; i < o->nvolumes; i++) {
    snprintf(dst, sizeof dst, "%s/vol-%d", o->criu_work, i);
    umount2(dst, MNT_DETACH);
    rmdir(dst);
  }
}
