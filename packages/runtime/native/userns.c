/*
 * User namespaces for sandboxes (see userns.h and docs/userns.md).
 *
 * A sandbox runs in a user namespace whose IDs 0..count-1 are host IDs base..base+count-1: root inside is an
 * unprivileged host user outside. The template layers and the writable layer keep their real owners on disk (0, 1000,
 * ...): the overlay is mounted from the host on idmapped clones of them (mount_setattr MOUNT_ATTR_IDMAP), which show
 * on-disk ID n as host ID base+n, so inside the sandbox n again, and files the sandbox creates land on disk unshifted.
 *
 * The overlay does its own work (work dir, copy-up) with its mounter's credentials, and an idmapped layer refuses to
 * create files for an ID it cannot map: the launcher mounts it with file system IDs set to the base (tb_fs_ids).
 *
 * The idmapping needs a user namespace with the sandbox's map before the sandbox exists (the overlay is mounted first):
 * tb_userns_open makes one in a short-lived child. Two namespaces with equal maps idmap identically, so the sandbox's
 * own namespace (made by clone, mapped with tb_userns_map) need not be that one.
 */
#define _GNU_SOURCE
#include "launch.h"
#include "userns.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_map(pid_t pid, const char *what, const char *line) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, what);
  return write_file(path, line);
}

int tb_userns_map(pid_t pid, unsigned base, unsigned count) {
  char line[64];
  snprintf(line, sizeof line, "0 %u %u\n", base, count);
  /* We are root in the parent namespace: setgroups stays allowed (sudo and su need it inside). */
  if (write_map(pid, "uid_map", line) < 0) return -1;
  return write_map(pid, "gid_map", line);
}

int tb_userns_become_root(void) {
  if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0) return -1;
  return setresuid(0, 0, 0);
}

int tb_userns_open(unsigned base, unsigned count) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  pid_t child = fork();
  if (child < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (child == 0) {
    close(p[0]);
    if (unshare(CLONE_NEWUSER) < 0 || write(p[1], "u", 1) != 1) _exit(1);
    pause(); /* until the parent has the namespace open and kills us */
    _exit(0);
  }
  close(p[1]);
  char c;
  int fd = -1, e = 0;
  if (read(p[0], &c, 1) != 1) e = ECHILD;
  if (!e && tb_userns_map(child, base, count) < 0) e = errno;
  if (!e) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", child);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) e = errno;
  }
  close(p[0]);
  kill(child, SIGKILL);
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
  errno = e;
  return e ? -1 : fd;
}

int tb_fs_ids(unsigned id) {
  setfsgid(id);
  setfsuid(id);
  if ((unsigned)setfsuid((uid_t)-1) != id || (unsigned)setfsgid((gid_t)-1) != id) return errno = EPERM, -1;
  /* Leaving fsuid 0 drops the file capabilities from the effective set; the overlay keeps its mounter's. */
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  d[0].effective = d[0].permitted;
  d[1].effective = d[1].permitted;
  return (int)syscall(SYS_capset, &h, d);
}

int tb_idmapped_tree(const char *path, int userns_fd) {
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) return -1;
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (unsigned)userns_fd;
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}
