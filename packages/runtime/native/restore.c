/*
 * `tb-launch restore`: like create, but the processes come from CRIU images (read only, --images). It mounts the root
 * (mounts.c), gives the sandbox a fresh netns with its link (external to the checkpoint), starts CRIU's lazy-pages
 * server when asked, and runs `criu restore --restore-sibling` inside the sandbox's cgroups so the restored init
 * becomes our child; then it stays as its shim (shim.c). In a user namespace CRIU makes the netns itself (owned by
 * that namespace) and runs tb-launch as its action script (tb_restore_net_script, options in TB_NET_* variables),
 * which wires it with the same host-side routine as create (net.c) and leaves `<criu-work>/veth` on success or
 * `<criu-work>/net.error` with the reason on failure. CRIU's log is `<criu-work>/restore.log`, the restored init's pid
 * `<criu-work>/restore.pid`. On failure everything this launch made is removed and it exits 1 with one line on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices.h"
#include "launch.h"

/*
 * The network of a restored sandbox: its netns (new, or target's: the one CRIU made in the sandbox's user namespace)
 * pinned on --netns-file, the veth pair, both ends configured. NULL or what failed; says what it made.
 */
static const char *restore_net(struct opts *o, pid_t target, int *veth_created, int *netns_pinned) {
  const char *fail = NULL;
  int up[2], down[2];
  if (pipe2(up, O_CLOEXEC) < 0) return "pipe";
  if (pipe2(down, O_CLOEXEC) < 0) { close(up[0]); close(up[1]); return "pipe"; }
  pid_t helper = fork();
  if (helper < 0) return "fork";
  if (helper == 0) {
    /* The netns helper: enters a new netns (or target's), waits for the veth, configures the sandbox side, exits. */
    char c;
    close(up[0]);
    close(down[1]); /* else a failing parent, closing its end, would leave us waiting for ever */
    if (tb_net_join_or_make(target) < 0 || write(up[1], "r", 1) != 1) _exit(1);
    if (read(down[0], &c, 1) != 1) _exit(1);
    _exit(tb_net_configure_sandbox(o) ? 2 : 0);
  }
  close(up[1]);
  close(down[0]);
  char c;
  if (read(up[0], &c, 1) != 1) fail = "make netns";
  if (!fail) fail = tb_net_wire_host(o, helper, netns_pinned, veth_created);
  if (!fail && write(down[1], "g", 1) != 1) fail = "configure netns";
  close(down[1]);
  close(up[0]);
  int st = 0;
  while (waitpid(helper, &st, 0) < 0 && errno == EINTR) {}
  if (!fail && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) fail = "configure the sandbox network";
  return fail;
}

int tb_restore_net_script(const char *action) {
  if (strcmp(action, "setup-namespaces")) return 0;
  struct opts o;
  memset(&o, 0, sizeof o);
  o.netns_file = getenv("TB_NET_NETNS_FILE");
  o.host_if = getenv("TB_NET_HOST_IF");
  o.host_ip = getenv("TB_NET_HOST_IP");
  o.sandbox_ip = getenv("TB_NET_SANDBOX_IP");
  o.criu_work = getenv("TB_NET_CRIU_WORK");
  o.internet = getenv("TB_NET_INTERNET") != NULL;
  const char *init = getenv("CRTOOLS_INIT_PID");
  if (!o.netns_file || !o.host_if || !o.host_ip || !o.sandbox_ip || !o.criu_work || !init || atoi(init) <= 1) {
    fprintf(stderr, "tb-launch: action script without its TB_NET_* variables\n");
    return 1;
  }
  int veth = 0, pinned = 0;
  const char *fail = restore_net(&o, (pid_t)atoi(init), &veth, &pinned);
  if (fail) {
    /* CRIU keeps our stderr for itself: the launcher reads why from here. */
    char why[4200], line[300];
    snprintf(why, sizeof why, "%s/net.error", o.criu_work);
    snprintf(line, sizeof line, "%s%s%s\n", fail, errno ? ": " : "", errno ? strerror(errno) : "");
    create_file(why, line, 0644);
    if (veth) tb_net_del_host_if(o.host_if);
    if (pinned) umount2(o.netns_file, MNT_DETACH);
    return 1;
  }
  char marker[4200];
  snprintf(marker, sizeof marker, "%s/veth", o.criu_work);
  return create_file(marker, o.host_if, 0644) < 0 ? 1 : 0;
}

/*
 * The page server: restore maps memory empty and this daemon fills it on first touch (userfaultfd), then copies the
 * rest in the background and exits. It reads the images, so they must stay until it is done (lazy.done). NULL or why.
 */
static const char *start_lazy_pages(struct opts *o) {
  char sock[4200], done[4200];
  snprintf(sock, sizeof sock, "%s/lazy-pages.socket", o->criu_work);
  snprintf(done, sizeof done, "%s/lazy.done", o->criu_work);
  unlink(sock);
  unlink(done);
  pid_t lp = fork();
  if (lp < 0) return "fork lazy-pages";
  if (lp == 0) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
    char *const argv[] = {(char *)o->criu, "lazy-pages", "-D", (char *)o->images, "-W", (char *)o->criu_work,
                          "-o", "lazy-pages.log", "-v2", NULL};
    execv(o->criu, argv);
    _exit(127);
  }
  o->lazy_pid = lp;
  long long deadline = now_ms() + 5000;
  while (access(sock, F_OK) != 0) {
    if (now_ms() > deadline || waitpid(lp, NULL, WNOHANG) == lp) {
      o->lazy_pid = 0;
      return "criu lazy-pages did not start";
    }
    usleep(2000);
  }
  return NULL;
}

/* In the forked child: joins the sandbox's cgroups and execs `criu restore` with the netns on nsfd. Never returns. */
static void exec_criu_restore(struct opts *o, int nsfd, char *pidfile) {
  char pidbuf[32];
  snprintf(pidbuf, sizeof pidbuf, "%d", getpid());
  /* Lazy pages in a user namespace: CRIU (patched) makes its userfaultfds from the device, which the sandbox's device
     cgroup would refuse to open. */
  int uffd_dev = o->uid_count && o->lazy_pages ? open("/dev/userfaultfd", O_RDWR) : -1;
  for (int i = 0; i < o->ncgroups; i++) {
    if (join_cgroup(o->cgroups[i], getpid()) < 0) {
      fprintf(stderr, "tb-launch: join cgroup %s: %s\n", o->cgroups[i], strerror(errno));
      _exit(125);
    }
  }
  char inherit[64], envd[4200], tbinit[4200];
  snprintf(inherit, sizeof inherit, "fd[%d]:extnet", nsfd);
  snprintf(envd, sizeof envd, "mnt[envd]:%s", o->agent);
  snprintf(tbinit, sizeof tbinit, "mnt[tbinit]:%s", o->self);
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); }
  enum { MAX_ARGS = 40 + 2 * TB_NDEVS + 2 * MAX_VOLUMES };
  char *argv[MAX_ARGS] = {(char *)o->criu, "restore", "-D", (char *)o->images, "-W", (char *)o->criu_work,
                                   "-o", "restore.log", "-v2",
                                   "--root", (char *)o->merged, "--restore-detached", "--restore-sibling",
                                   "--tcp-close", "--file-locks", "--manage-cgroups=ignore", "--inherit-fd", inherit,
                                   "--external", envd, "--external", tbinit, "--pidfile", pidfile};
  int argc = 0;
  while (argv[argc]) argc++;
  if (o->lazy_pages) argv[argc++] = "--lazy-pages";
  char uffd_arg[64];
  if (uffd_dev >= 0) {
    snprintf(uffd_arg, sizeof uffd_arg, "fd[%d]:dev-userfaultfd", uffd_dev);
    argv[argc++] = "--inherit-fd";
    argv[argc++] = uffd_arg;
  }
  if (o->uid_count) {
    /* CRIU makes the netns inside the restored user namespace; we wire it from its action script. */
    static char *const net_args[] = {"--empty-ns", "net", "--network-lock", "skip", "--action-script"};
    for (size_t i = 0; i < sizeof net_args / sizeof net_args[0]; i++) argv[argc++] = net_args[i];
    argv[argc++] = (char *)o->self;
    setenv("TB_NET_NETNS_FILE", o->netns_file, 1);
    setenv("TB_NET_HOST_IF", o->host_if, 1);
    setenv("TB_NET_HOST_IP", o->host_ip, 1);
    setenv("TB_NET_SANDBOX_IP", o->sandbox_ip, 1);
    setenv("TB_NET_CRIU_WORK", o->criu_work, 1);
    if (o->internet) setenv("TB_NET_INTERNET", "1", 1);
  }
  /* The volumes, staged by tb_volumes_stage; the checkpoint names them vol-<i> (checkpoint.ts). */
  char volmap[MAX_VOLUMES][300];
  for (int i = 0; i < o->nvolumes; i++) {
    snprintf(volmap[i], sizeof volmap[i], "mnt[vol-%d]:%s", i, tb_volumes_staged(i));
    argv[argc++] = "--external";
    argv[argc++] = volmap[i];
  }
  char devmap[TB_NDEVS][64];
  for (size_t i = 0; o->uid_count && i < TB_NDEVS; i++) {
    snprintf(devmap[i], sizeof devmap[i], "mnt[dev-%s]:/%s", tb_dev_names[i] + 4, tb_dev_names[i]);
    argv[argc++] = "--external";
    argv[argc++] = devmap[i];
  }
  execv(o->criu, argv);
  _exit(127);
}

/* Runs criu restore to its end and reads the restored init's pid: NULL, or why not. */
static const char *run_criu_restore(struct opts *o, char *pidfile, pid_t *pid) {
  const char *fail = NULL;
  int nsfd = open(o->netns_file, O_RDONLY); /* inherited by criu: --inherit-fd */
  if (nsfd < 0) return "open netns";
  pid_t criu = fork();
  if (criu < 0) fail = "fork criu";
  if (criu == 0) exec_criu_restore(o, nsfd, pidfile);
  if (criu > 0) {
    int st = 0;
    while (waitpid(criu, &st, 0) < 0 && errno == EINTR) {}
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) fail = "criu restore failed";
  }
  close(nsfd);
  if (fail) return fail;
  char buf[32] = {0};
  int fd = open(pidfile, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0) fail = "criu wrote no pid";
  if (fd >= 0) close(fd);
  *pid = atoi(buf);
  if (!fail && *pid <= 1) fail = "criu wrote a bad pid";
  return fail;
}

/* The action script's reason for a failed restore in a user namespace (the better one: e.g. "create veth" makes the
   driver retry on another slot), or NULL. */
static const char *net_script_error(const struct opts *o) {
  static char why[300];
  char path[4200];
  snprintf(path, sizeof path, "%s/net.error", o->criu_work);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, why, sizeof why - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return NULL;
  why[n] = 0;
  why[strcspn(why, "\n")] = 0;
  return why;
}

int tb_restore_main(struct opts *o) {
  if (!o->id || !o->lower || !o->upper || !o->work || !o->merged || !o->agent || !o->netns_file || !o->host_if ||
      !o->host_ip || !o->sandbox_ip || !o->images || !o->criu || !o->criu_work) {
    fprintf(stderr, "tb-launch: restore needs --id --lower --upper --work --merged --agent --netns-file --host-if "
                    "--host-ip --sandbox-ip --images --criu --criu-work\n");
    return 2;
  }
  tb_mount_root(o);

  const char *fail = NULL;
  int veth_created = 0;
  int netns_pinned = 0;
  /* Restored into a user namespace, lazy pages need /dev/userfaultfd (Linux 6.1+; see docs/userns.md): else eager. */
  if (o->uid_count && o->lazy_pages && access("/dev/userfaultfd", R_OK | W_OK) != 0) o->lazy_pages = 0;
  /* In a user namespace CRIU makes the netns (owned by it) and calls us back to wire it (tb_restore_net_script). */
  char veth_marker[4200], net_error[4200];
  snprintf(veth_marker, sizeof veth_marker, "%s/veth", o->criu_work);
  unlink(veth_marker);
  snprintf(net_error, sizeof net_error, "%s/net.error", o->criu_work);
  unlink(net_error);
  if (!o->uid_count) fail = restore_net(o, 0, &veth_created, &netns_pinned);

  for (int i = 0; i < o->ncgroups && !fail; i++)
    if (tb_devices_restrict(o->cgroups[i]) < 0) fail = "restrict devices";

  pid_t pid = -1;
  char pidfile[4096];
  snprintf(pidfile, sizeof pidfile, "%s/restore.pid", o->criu_work);
  unlink(pidfile);
  if (!fail) fail = tb_volumes_stage(o);
  if (!fail && o->lazy_pages) fail = start_lazy_pages(o);
  if (!fail) fail = run_criu_restore(o, pidfile, &pid);
  tb_volumes_unstage(o);
  if (fail) {
    int e = errno;
    if (o->uid_count) {
      veth_created = access(veth_marker, F_OK) == 0; /* the action script made it */
      netns_pinned = 1;
      const char *why = net_script_error(o);
      if (why) {
        fail = why;
        e = 0;
      }
    }
    if (pid > 1) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); }
    if (o->lazy_pid > 0) { kill(o->lazy_pid, SIGKILL); waitpid(o->lazy_pid, NULL, 0); }
    if (veth_created) tb_net_del_host_if(o->host_if);
    tb_cleanup_mounts(o->merged, netns_pinned ? o->netns_file : NULL);
    errno = e;
    fprintf(stderr, "tb-launch: %s\n", fail);
    return 1;
  }
  return tb_shim(o, pid);
}
