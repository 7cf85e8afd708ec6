/*
 * The sandbox side of a launch. tb_sandbox_main is the first process in the new mount/PID/UTS/IPC/net (and user)
 * namespaces, clone()d by create: it waits for the host side's "go" (cgroups joined, link wired), makes its own
 * session and cgroup namespace, sets the hostname, configures its network, builds the root (mounts.c), pivots into
 * it, drops capabilities, installs the seccomp filter (seccomp.c), keeps only stdio and the ready pipe open, and
 * execs tb-init. tb-init (tb_init_main; argv[0] = tb-init, bound read-only at /run/tensor-box/tb-init) is the
 * sandbox's PID 1: it starts the agent with the ready fd, forwards SIGTERM/SIGINT/SIGHUP to it, reaps orphans, and
 * exits with the agent's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "seccomp.h"
#include "userns.h"

int tb_sandbox_main(void *arg) {
  struct opts *o = arg;
  close(o->sync_fd[1]);
  close(o->ready_fd[0]);
  char go;
  if (read(o->sync_fd[0], &go, 1) != 1) _exit(1); /* parent failed: it cleans up */
  close(o->sync_fd[0]);
  /* Own session: the sandbox's process tree must not hang off a host session (CRIU refuses to dump that). */
  if (setsid() < 0) die("setsid");

  if (unshare(CLONE_NEWCGROUP) < 0) die("unshare cgroup ns");
  const char *hn = o->hostname ? o->hostname : "sandbox";
  if (sethostname(hn, strlen(hn)) < 0) die("sethostname");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");
  const char *fail = tb_net_configure_sandbox(o);
  if (fail) die("%s", fail);

  if (chdir(o->merged) < 0) die("chdir %s", o->merged);
  char agent[4200], self[4200];
  snprintf(agent, sizeof agent, "%s", o->agent);
  snprintf(self, sizeof self, "%s", o->self);
  if (o->uid_count) {
    /* The overlay came from the host: locked here, and pivot_root refuses a locked root. A bind of it is ours. */
    tb_mnt(o->merged, o->merged, NULL, MS_BIND, NULL);
    if (chdir(o->merged) < 0) die("chdir %s", o->merged);
    /* Host paths are walked before we become the namespace's root (a host user then, who may not pass 0700 dirs). */
    int afd = open(o->agent, O_PATH | O_CLOEXEC), sfd = open(o->self, O_PATH | O_CLOEXEC);
    if (afd < 0 || sfd < 0) die("open %s", afd < 0 ? o->agent : o->self);
    snprintf(agent, sizeof agent, "/proc/self/fd/%d", afd);
    snprintf(self, sizeof self, "/proc/self/fd/%d", sfd);
    if (tb_userns_become_root() < 0) die("become root in the user namespace");
  }
  tb_populate_root(o, hn, agent, self);
  tb_pivot_root();
  tb_volumes_attach(o);

  if (tb_drop_caps() < 0) die("drop capabilities");
  if (tb_seccomp_install(o->no_new_privs) < 0) die("seccomp");

  /* Only stdio and the ready pipe cross into the sandbox (CRIU also needs no stray fds). */
  int devnull = open("/dev/null", O_RDWR);
  if (devnull < 0) die("open /dev/null");
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  if (o->ready_fd[1] != READY_FD) {
    if (dup2(o->ready_fd[1], READY_FD) < 0) die("dup2 ready fd");
  }
  close_range(READY_FD + 1, ~0U, 0);

  char fdarg[16];
  snprintf(fdarg, sizeof fdarg, "%d", READY_FD);
  char *const argv[] = {"tb-init", fdarg, RUN_DIR "/envd", "--port", ENVD_PORT, NULL};
  char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", NULL};
  execve(RUN_DIR "/tb-init", argv, envp);
  _exit(126);
}

/* ---------- PID 1 inside the sandbox ---------- */

static pid_t agent_pid;
static void forward(int sig) {
  if (agent_pid > 0) kill(agent_pid, sig);
}

int tb_init_main(int argc, char **argv) {
  if (argc < 3) return 2;
  /* Not dumpable: root inside (no CAP_SYS_PTRACE) cannot ptrace PID 1 or write its memory through /proc/1/mem.
     The agent is exec'd, which makes it dumpable again; CRIU keeps the flag across pause/resume. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int ready = atoi(argv[1]);
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  agent_pid = fork();
  if (agent_pid < 0) return 1;
  if (agent_pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setsid();
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", ready);
    char **args = calloc((size_t)argc + 3, sizeof(char *));
    int k = 0;
    for (int i = 2; i < argc; i++) args[k++] = argv[i];
    args[k++] = "--ready-fd";
    args[k++] = fdarg;
    execv(argv[2], args);
    _exit(127);
  }
  close(ready);
  struct sigaction sa = {.sa_handler = forward};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);
  for (;;) {
    int st;
    pid_t p = wait(&st);
    if (p < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (p == agent_pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
}
