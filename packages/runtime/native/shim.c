/*
 * `tb-launch create`, and the shim the launcher then stays as. create mounts the root (mounts.c), clones the sandbox's
 * first process (init.c) into new namespaces, maps its user namespace, restricts the devices of its cgroups
 * (devices.c) and puts it into them, wires its link (net.c), lets it go, and waits up to READY_TIMEOUT_MS for the
 * agent's "ready" on the ready pipe. On any failure before that it kills the sandbox, removes only what this launch
 * made, and exits 1 with one line on stderr. On success the shim (also used by restore.c) prints {"pid":N} on stdout,
 * closes its stdio, reaps the sandbox (and the lazy-pages server of a restore, marking `<criu-work>/lazy.done` when it
 * is finished) and writes the sandbox's wait status to --exit-file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices.h"
#include "launch.h"
#include "userns.h"

#define STACK_SIZE (256 * 1024)
#define READY_TIMEOUT_MS 15000

int tb_shim(struct opts *o, pid_t pid) {
  printf("{\"pid\":%d}\n", pid);
  fflush(stdout);
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    if (devnull > 2) close(devnull);
  }
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  int st = 0;
  for (;;) {
    int s2;
    pid_t p = waitpid(-1, &s2, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p == o->lazy_pid && o->lazy_pid > 0) {
      /* Every page is in: the images may go now. */
      char done[4200], line[32];
      snprintf(done, sizeof done, "%s/lazy.done", o->criu_work);
      snprintf(line, sizeof line, "%d\n", s2);
      create_file(done, line, 0644);
      o->lazy_pid = 0;
      continue;
    }
    if (p == pid) {
      st = s2;
      break;
    }
  }
  if (o->lazy_pid > 0) {
    kill(o->lazy_pid, SIGKILL);
    waitpid(o->lazy_pid, NULL, 0);
  }
  if (o->exit_file) {
    char line[32];
    snprintf(line, sizeof line, "%d\n", st);
    create_file(o->exit_file, line, 0644);
  }
  return 0;
}

/* Waits for the agent's "ready" on the ready pipe: NULL, or why not. */
static const char *await_ready(int fd) {
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  long long deadline = now_ms() + READY_TIMEOUT_MS;
  char buf[16];
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return "agent did not report ready in time";
    int r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return "agent did not report ready in time";
    return read(fd, buf, sizeof buf) <= 0 ? "agent exited before it was ready" : NULL;
  }
}

int tb_create_main(struct opts *o) {
  if (!o->id || !o->lower || !o->upper || !o->work || !o->merged || !o->agent || !o->netns_file || !o->host_if ||
      !o->host_ip || !o->sandbox_ip) {
    fprintf(stderr, "tb-launch: create needs --id --lower --upper --work --merged --agent --netns-file --host-if "
                    "--host-ip --sandbox-ip\n");
    return 2;
  }
  tb_mount_root(o);

  if (pipe2(o->sync_fd, O_CLOEXEC) < 0 || pipe2(o->ready_fd, 0) < 0) {
    tb_cleanup_mounts(o->merged, NULL);
    die("pipe");
  }
  fcntl(o->ready_fd[0], F_SETFD, FD_CLOEXEC);

  char *stack = malloc(STACK_SIZE);
  pid_t pid = clone(tb_sandbox_main, stack + STACK_SIZE,
                    CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD |
                        (o->uid_count ? CLONE_NEWUSER : 0), o);
  if (pid < 0) {
    tb_cleanup_mounts(o->merged, NULL);
    die("clone");
  }
  close(o->sync_fd[0]);
  close(o->ready_fd[1]);

  const char *fail = NULL;
  int veth_created = 0, netns_pinned = 0;
  if (o->uid_count && tb_userns_map(pid, o->uid_base, o->uid_count) < 0) fail = "map the user namespace";
  for (int i = 0; i < o->ncgroups && !fail; i++) {
    if (tb_devices_restrict(o->cgroups[i]) < 0) fail = "restrict devices";
    else if (join_cgroup(o->cgroups[i], pid) < 0) fail = "join cgroup";
  }
  if (!fail) fail = tb_net_wire_host(o, pid, &netns_pinned, &veth_created);
  if (!fail && write(o->sync_fd[1], "g", 1) != 1) fail = "start sandbox";
  close(o->sync_fd[1]);
  if (!fail) fail = await_ready(o->ready_fd[0]);
  close(o->ready_fd[0]);

  if (fail) {
    int e = errno;
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    /* Only an interface this launch made: when creating it failed, the name belongs to another sandbox. */
    if (veth_created) tb_net_del_host_if(o->host_if);
    tb_cleanup_mounts(o->merged, o->netns_file);
    errno = e;
    fprintf(stderr, "tb-launch: %s\n", fail);
    return 1;
  }

  return tb_shim(o, pid);
}
