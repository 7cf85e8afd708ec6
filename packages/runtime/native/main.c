/*
 * tb-launch: starts one Tensor Box sandbox and then stays as its shim (the parent that reaps it). This file: the
 * command line and dispatch, `cleanup`, `devices`, `reap`, and the small helpers the other parts share (launch.h).
 *
 *   tb-launch create --id ID --lower L1:L2 --upper U --work W --merged M --agent PATH --netns-file F
 *                    --host-if NAME --host-ip A --sandbox-ip B [--cgroup DIR]... [--hostname H] [--internet]
 *                    [--no-new-privs] [--exit-file F] [--resolv-conf F]
 *                    [--disk-image IMG --disk-mount DIR [--disk-blank BLANK]] [--volume HOST PATH]...
 *   tb-launch cleanup --merged M --netns-file F [--host-if NAME] [--disk-mount DIR]
 *   tb-launch cleanup-server                          (cleanup for many sandboxes: requests on stdin, see below)
 *   tb-launch devices --cgroup DIR...                 (the sandbox device policy on existing cgroups; tests)
 *   tb-init <ready-fd> <agent> [agent args...]        (argv[0] = tb-init: the sandbox's PID 1; internal)
 *
 *   tb-launch restore <create's options> --images DIR --criu PATH --criu-work DIR [--lazy-pages]
 *   tb-launch reap -- cmd [args...]                   (a child subreaper for raw CRIU cycles; benchmarks)
 *
 * create (shim.c): mounts the overlay root (mounts.c), clones the sandbox's init into new mount/PID/UTS/IPC/net
 * namespaces, restricts the devices of the given cgroups (devices.c) and puts it into them, pins its netns on
 * --netns-file, wires a veth pair (net.c: host end --host-if with --host-ip/30, sandbox end eth0 with
 * --sandbox-ip/30), and inside (init.c): new cgroup namespace, minimal /dev, proc, sys with the host inventories masked
 * (sandbox-fs.c), pivot_root, bounding-set capability drop, the seccomp filter (seccomp.c, compiled from
 * seccomp/<arch>.profile), then tb-init (bind-mounted read-only in the read-only mount point /run/tensor-box) which
 * starts the agent and reaps orphans. When the agent reports ready on its ready fd, create prints {"pid":N} on stdout
 * and closes it, then waits for the sandbox to end and writes its wait status to --exit-file. On any failure before
 * that it undoes what it did and exits 1 with one line on stderr. restore (restore.c): the same from CRIU images.
 *
 * --disk-image: the sandbox's writable layer lives on its own ext4 disk image, loop-mounted at --disk-mount before the
 * overlay (whose --upper/--work are then inside it); with --disk-blank the image is first made as a sparse copy of that
 * formatted blank. The loop device is set up with autoclear, so it goes away with the last unmount.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices.h"
#include "launch.h"

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("tb-launch: ", stderr);
  vfprintf(stderr, fmt, ap);
  if (errno) fprintf(stderr, ": %s", strerror(errno));
  fputc('\n', stderr);
  va_end(ap);
  _exit(1);
}

int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, strlen(data));
  int e = errno;
  close(fd);
  errno = e;
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

int create_file(const char *path, const char *data, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, strlen(data));
  close(fd);
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int join_cgroup(const char *cgroup_dir, pid_t pid) {
  char p[4096], pidbuf[32];
  snprintf(p, sizeof p, "%s/cgroup.procs", cgroup_dir);
  snprintf(pidbuf, sizeof pidbuf, "%d", pid);
  return write_file(p, pidbuf);
}

static int parse(struct opts *o, int argc, char **argv) {
  for (int i = 2; i < argc; i++) {
    const char *k = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field) if (!strcmp(k, "--" name)) { if (!v) return -1; o->field = v; i++; continue; }
    OPT("id", id) OPT("lower", lower) OPT("upper", upper) OPT("work", work) OPT("merged", merged) OPT("agent", agent)
    OPT("netns-file", netns_file) OPT("host-if", host_if) OPT("host-ip", host_ip) OPT("sandbox-ip", sandbox_ip)
    OPT("hostname", hostname) OPT("exit-file", exit_file) OPT("resolv-conf", resolv_conf)
    OPT("images", images) OPT("criu", criu) OPT("criu-work", criu_work)
    OPT("disk-image", disk_image) OPT("disk-mount", disk_mount) OPT("disk-blank", disk_blank)
#undef OPT
    if (!strcmp(k, "--cgroup")) {
      if (!v || o->ncgroups == MAX_CGROUPS) return -1;
      o->cgroups[o->ncgroups++] = v;
      i++;
      continue;
    }
    if (!strcmp(k, "--volume")) {
      if (!v || i + 2 >= argc || o->nvolumes == MAX_VOLUMES || argv[i + 2][0] != '/') return -1;
      o->vol_host[o->nvolumes] = v;
      o->vol_path[o->nvolumes++] = argv[i + 2];
      i += 2;
      continue;
    }
    if (!strcmp(k, "--internet")) { o->internet = 1; continue; }
    if (!strcmp(k, "--no-new-privs")) { o->no_new_privs = 1; continue; }
    if (!strcmp(k, "--lazy-pages")) { o->lazy_pages = 1; continue; }
    if (!strcmp(k, "--uid-base") || !strcmp(k, "--uid-count")) {
      char *end;
      unsigned long n = v ? strtoul(v, &end, 10) : 0;
      if (!v || *end || n > 0xfffffffful) return -1;
      *(k[6] == 'b' ? &o->uid_base : &o->uid_count) = (unsigned)n;
      i++;
      continue;
    }
    fprintf(stderr, "tb-launch: unknown option %s\n", k);
    return -1;
  }
  return 0;
}

/*
 * `tb-launch reap -- cmd...`: runs cmd as a child subreaper and reaps every orphan below it until cmd and all of them
 * are gone; exits with cmd's status. Benchmarks use it to run raw CRIU dump/restore cycles: the host's PID 1 here does
 * not reap orphans, and a zombie would keep the PID a restore needs.
 */
static int reap_main(int argc, char **argv) {
  int i = 2;
  if (i < argc && !strcmp(argv[i], "--")) i++;
  if (i >= argc) {
    fprintf(stderr, "usage: tb-launch reap -- cmd [args...]\n");
    return 2;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("PR_SET_CHILD_SUBREAPER");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    execvp(argv[i], argv + i);
    _exit(127);
  }
  int code = 1;
  for (;;) {
    int st;
    pid_t p = wait(&st);
    if (p < 0) {
      if (errno == EINTR) continue;
      break; /* ECHILD: nobody left */
    }
    if (p == child) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return code;
}

/* What `cleanup` undoes, for one sandbox: lazy unmounts of the pinned netns, the overlay and the disk (NULL: not
   given), then the host link if it still exists. */
static void cleanup(const char *merged, const char *netns_file, const char *disk_mount, const char *host_if) {
  tb_set_disk_mount(disk_mount);
  tb_cleanup_mounts(merged, netns_file);
  if (host_if) tb_net_del_host_if(host_if);
}

/*
 * `tb-launch cleanup-server`: the control plane's one long-lived helper for teardowns (a process start per killed
 * sandbox costs the control plane more than the teardown itself). One request per line on stdin, four tab-separated
 * fields — merged, netns file, disk mount, host link; an empty field is not given — answered in order with "ok\n"
 * on stdout once done. Exits at the end of stdin (the control plane is gone).
 */
static int cleanup_server(void) {
  static char line[16384];
  signal(SIGPIPE, SIG_DFL);
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char *field[4] = {NULL, NULL, NULL, NULL}, *rest = line;
    for (int i = 0; i < 4 && rest; i++) {
      field[i] = strsep(&rest, "\t");
      if (!*field[i]) field[i] = NULL;
    }
    cleanup(field[0], field[1], field[2], field[3]);
    if (fputs("ok\n", stdout) == EOF || fflush(stdout) == EOF) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  if (!strcmp(base, "tb-init")) return tb_init_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "reap")) return reap_main(argc, argv);
  if (argc == 2 && !strcmp(argv[1], "cleanup-server")) return cleanup_server();
  if (argc == 1 && getenv("CRTOOLS_SCRIPT_ACTION")) return tb_restore_net_script(getenv("CRTOOLS_SCRIPT_ACTION"));
  if (argc < 2) {
    fprintf(stderr, "usage: tb-launch create|restore|cleanup|devices [options]\n");
    return 2;
  }
  struct opts o;
  memset(&o, 0, sizeof o);
  if (parse(&o, argc, argv) < 0) return 2;
  if (!strcmp(argv[1], "create")) return tb_create_main(&o);
  if (!strcmp(argv[1], "restore")) return tb_restore_main(&o);
  if (!strcmp(argv[1], "devices")) {
    /* `tb-launch devices --cgroup DIR...`: the sandbox device policy on existing cgroups (tests use it on v2). */
    for (int i = 0; i < o.ncgroups; i++)
      if (tb_devices_restrict(o.cgroups[i]) < 0) die("restrict devices of %s", o.cgroups[i]);
    return 0;
  }
  if (!strcmp(argv[1], "cleanup")) {
    cleanup(o.merged, o.netns_file, o.disk_mount, o.host_if);
    return 0;
  }
  fprintf(stderr, "tb-launch: unknown command %s\n", argv[1]);
  return 2;
}
