/*
 * tb-launch: starts one Tensor Box sandbox and then stays as its shim (the parent that reaps it).
 *
 *   tb-launch create --id ID --lower L1:L2 --upper U --work W --merged M --agent PATH --netns-file F
 *                    --host-if NAME --host-ip A --sandbox-ip B [--cgroup DIR]... [--hostname H] [--internet]
 *                    [--no-new-privs] [--exit-file F] [--resolv-conf F]
 *                    [--disk-image IMG --disk-mount DIR [--disk-blank BLANK]]
 *   tb-launch cleanup --merged M --netns-file F [--host-if NAME] [--disk-mount DIR]
 *   tb-launch devices --cgroup DIR...                 (the sandbox device policy on existing cgroups; tests)
 *   tb-init <ready-fd> <agent> [agent args...]        (argv[0] = tb-init: the sandbox's PID 1; internal)
 *
 * create: mounts the overlay root, clones the sandbox's init into new mount/PID/UTS/IPC/net namespaces, restricts
 * the devices of the given cgroups (devices.c) and puts it into them, pins its netns on --netns-file, wires a veth
 * pair (host end --host-if with --host-ip/30, sandbox end eth0 with --sandbox-ip/30), and inside: new cgroup
 * namespace, minimal /dev, proc, sys with the host inventories masked (sandbox-fs.c), pivot_root, bounding-set
 * capability drop, the seccomp filter (seccomp.c, compiled from seccomp/<arch>.profile), then tb-init (bind-mounted
 * read-only in the read-only mount point /run/tensor-box) which starts the agent and reaps orphans. When the agent
 * reports ready on its ready fd, create prints {"pid":N} on stdout and closes it, then waits for the
 * sandbox to end and writes its wait status to --exit-file. On any failure before that it undoes what it did and exits 1
 * with one line on stderr.
 *
 * --disk-image: the sandbox's writable layer lives on its own ext4 disk image, loop-mounted at --disk-mount before the
 * overlay (whose --upper/--work are then inside it); with --disk-blank the image is first made as a sparse copy of that
 * formatted blank. The loop device is set up with autoclear, so it goes away with the last unmount.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices.h"
#include "sandbox-fs.h"
#include "seccomp.h"
#include "userns.h"

#define MAX_CGROUPS 16
#define READY_FD 3
/* Device group of offline sandboxes' host links (firewall.ts drops what they forward; must match OFFLINE_LINK_GROUP). */
#define OFFLINE_LINK_GROUP "29762"
#define RUN_DIR "/run/tensor-box"
#define REL_RUN_DIR "run/tensor-box"
#define STACK_SIZE (256 * 1024)
#define READY_TIMEOUT_MS 15000

struct opts {
  const char *id, *lower, *upper, *work, *merged, *agent, *netns_file, *host_if, *host_ip, *sandbox_ip;
  const char *hostname, *exit_file, *resolv_conf, *self;
  const char *images, *criu, *criu_work; /* restore: CRIU images (read only), binary, dir for its log and pidfile */
  const char *disk_image, *disk_mount, *disk_blank;
  const char *cgroups[MAX_CGROUPS];
  int ncgroups, internet, no_new_privs, lazy_pages;
  unsigned uid_base, uid_count; /* --uid-base/--uid-count: own user namespace mapping 0.. to uid_base.. (userns.c) */
  pid_t lazy_pid; /* restore --lazy-pages: the CRIU page server for the restored tree */
  int sync_fd[2];  /* parent -> child: "go" */
  int ready_fd[2]; /* agent -> parent: "ready\n" */
};

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("tb-launch: ", stderr);
  vfprintf(stderr, fmt, ap);
  if (errno) fprintf(stderr, ": %s", strerror(errno));
  fputc('\n', stderr);
  va_end(ap);
  _exit(1);
}

static int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, strlen(data));
  int e = errno;
  close(fd);
  errno = e;
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int create_file(const char *path, const char *data, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, strlen(data));
  close(fd);
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

/* ---------- network (ioctl; the veth itself is made by `ip`) ---------- */

static int set_addr(int sock, const char *ifname, const char *ip, const char *mask) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) return errno = EINVAL, -1;
  if (ioctl(sock, SIOCSIFADDR, &ifr) < 0) return -1;
  inet_pton(AF_INET, mask, &sin->sin_addr);
  if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0) return -1;
  return 0;
}

static int link_up(int sock, const char *ifname) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

static int add_default_route(int sock, const char *gw) {
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *g = (struct sockaddr_in *)&rt.rt_gateway,
                     *m = (struct sockaddr_in *)&rt.rt_genmask;
  dst->sin_family = g->sin_family = m->sin_family = AF_INET;
  inet_pton(AF_INET, gw, &g->sin_addr);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  return ioctl(sock, SIOCADDRT, &rt);
}

/* Writes a per-interface sysctl of the calling process's network namespace ("ipv6", "eth0", "disable_ipv6", "1"). */
static int if_sysctl(const char *family, const char *ifname, const char *key, const char *value) {
  char p[256];
  snprintf(p, sizeof p, "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
  return write_file(p, value);
}

/*
 * The host end of a sandbox link, before it goes up: no IPv6 at all (no link-local address, so nothing on the host is
 * reachable over fe80::), strict reverse-path filtering (only the sandbox's own address may come in; the firewall's
 * rpfilter rule enforces the same even when conf/all says "loose"), and ARP answered only for the link's own address.
 */
static int harden_host_link(const char *ifname) {
  if (if_sysctl("ipv6", ifname, "disable_ipv6", "1") < 0 && errno != ENOENT) return -1;
  if (if_sysctl("ipv4", ifname, "rp_filter", "1") < 0) return -1;
  if (if_sysctl("ipv4", ifname, "arp_ignore", "1") < 0) return -1;
  if (if_sysctl("ipv4", ifname, "arp_announce", "2") < 0) return -1;
  return 0;
}

/* Inside the sandbox's netns: eth0 carries no IPv6 (loopback keeps ::1, which local programs expect). */
static int sandbox_link_ipv6_off(void) {
  if (if_sysctl("ipv6", "default", "disable_ipv6", "1") < 0 && errno != ENOENT) return -1;
  if (if_sysctl("ipv6", "eth0", "disable_ipv6", "1") < 0 && errno != ENOENT) return -1;
  return 0;
}

static int run_ip(char *const argv[]) {
  pid_t p = fork();
  if (p < 0) return -1;
  if (p == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execvp("ip", argv);
    _exit(127);
  }
  int st;
  while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : (errno = EIO, -1);
}

/* Docker's default capability set; everything else leaves the bounding set (and so every process in the sandbox). */
static const int kept_caps[] = {
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP,
  CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
};

static int drop_caps(void) {
  for (int c = 0; c <= 63; c++) {
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0) break; /* past the kernel's last cap */
    int keep = 0;
    for (size_t k = 0; k < sizeof kept_caps / sizeof kept_caps[0]; k++) keep |= kept_caps[k] == c;
    if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) return -1;
  }
  /* The inheritable/ambient sets start empty for root; exec recomputes permitted = bounding for uid 0. */
  return 0;
}

/* ---------- inside the new namespaces ---------- */

static void mk(const char *path, mode_t mode) {
  if (mkdir(path, mode) < 0 && errno != EEXIST) die("mkdir %s", path);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die("mount %s on %s", type ? type : src, dst);
}

static const struct { const char *name; unsigned maj, min; } devs[] = {
  {"dev/null", 1, 3}, {"dev/zero", 1, 5}, {"dev/full", 1, 7}, {"dev/random", 1, 8}, {"dev/urandom", 1, 9},
  {"dev/tty", 5, 0},
};
#define NDEVS (sizeof devs / sizeof devs[0])

/* The sandbox's device nodes: made here, or in a user namespace (no mknod there) binds of the host's own nodes, which
   a checkpoint names as external mounts `dev-<name>` (container.ts dumps them so). */
static void setup_dev(int userns) {
  mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
    if (userns) {
      if (create_file(devs[i].name, "", 0666) < 0) die("stub %s", devs[i].name);
      char host[32];
      snprintf(host, sizeof host, "/%s", devs[i].name);
      mnt(host, devs[i].name, NULL, MS_BIND, NULL);
      continue;
    }
    if (mknod(devs[i].name, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) < 0) die("mknod %s", devs[i].name);
    chmod(devs[i].name, 0666);
  }
  mk("dev/pts", 0755);
  mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  if (symlink("pts/ptmx", "dev/ptmx") < 0) die("symlink ptmx");
  mk("dev/shm", 01777);
  mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
  mk("dev/mqueue", 0755);
  symlink("/proc/self/fd", "dev/fd");
  symlink("/proc/self/fd/0", "dev/stdin");
  symlink("/proc/self/fd/1", "dev/stdout");
  symlink("/proc/self/fd/2", "dev/stderr");
}

static int child_main(void *arg) {
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

  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die("socket");
  if (set_addr(sock, "lo", "127.0.0.1", "255.0.0.0") < 0 || link_up(sock, "lo") < 0) die("lo up");
  if (sandbox_link_ipv6_off() < 0) die("ipv6 off");
  if (set_addr(sock, "eth0", o->sandbox_ip, "255.255.255.252") < 0 || link_up(sock, "eth0") < 0) die("eth0 up");
  if (o->internet && add_default_route(sock, o->host_ip) < 0) die("default route");
  close(sock);

  if (chdir(o->merged) < 0) die("chdir %s", o->merged);
  char agent[4200], self[4200];
  snprintf(agent, sizeof agent, "%s", o->agent);
  snprintf(self, sizeof self, "%s", o->self);
  if (o->uid_count) {
    /* The overlay came from the host: locked here, and pivot_root refuses a locked root. A bind of it is ours. */
    mnt(o->merged, o->merged, NULL, MS_BIND, NULL);
    if (chdir(o->merged) < 0) die("chdir %s", o->merged);
    /* Host paths are walked before we become the namespace's root (a host user then, who may not pass 0700 dirs). */
    int afd = open(o->agent, O_PATH | O_CLOEXEC), sfd = open(o->self, O_PATH | O_CLOEXEC);
    if (afd < 0 || sfd < 0) die("open %s", afd < 0 ? o->agent : o->self);
    snprintf(agent, sizeof agent, "/proc/self/fd/%d", afd);
    snprintf(self, sizeof self, "/proc/self/fd/%d", sfd);
    if (tb_userns_become_root() < 0) die("become root in the user namespace");
  }
  /* Images built FROM scratch may lack the mount points and /etc (they land in the writable layer). */
  mk("proc", 0555);
  mk("sys", 0555);
  mk("dev", 0755);
  mk("run", 0755);
  mk("etc", 0755);
  mk("tmp", 01777);
  mnt("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  /* Hide the proc files that reach the host kernel. */
  mnt("proc/sys", "proc/sys", NULL, MS_BIND | MS_REC, NULL);
  mnt(NULL, "proc/sys", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mnt("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  setup_dev(o->uid_count > 0);
  mnt("tmpfs", "run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k");
  mk("run/lock", 01777);
  const char *bad = tb_mount_agent(REL_RUN_DIR, agent, self);
  if (bad) die("mount %s", bad);
  /* Masks come from the sandbox's own /dev/null and /run/tensor-box/empty (not the host's), so a checkpoint has no
     host mount in it. */
  if ((bad = tb_mask_host_views(REL_RUN_DIR "/empty"))) die("mask %s", bad);

  char hosts[512];
  snprintf(hosts, sizeof hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", hn);
  unlink("etc/hosts");
  if (create_file("etc/hosts", hosts, 0644) < 0) die("write /etc/hosts");
  char hn_line[300];
  snprintf(hn_line, sizeof hn_line, "%s\n", hn);
  unlink("etc/hostname");
  create_file("etc/hostname", hn_line, 0644);
  if (o->resolv_conf) {
    int in = open(o->resolv_conf, O_RDONLY | O_CLOEXEC);
    if (in >= 0) {
      char buf[4096];
      ssize_t n = read(in, buf, sizeof buf - 1);
      close(in);
      if (n >= 0) {
        buf[n] = 0;
        unlink("etc/resolv.conf");
        create_file("etc/resolv.conf", buf, 0644);
      }
    }
  }

  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) die("detach old root");
  if (chdir("/") < 0) die("chdir /");

  if (drop_caps() < 0) die("drop capabilities");
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
  char *const argv[] = {"tb-init", fdarg, RUN_DIR "/envd", "--port", "49983", NULL};
  char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", NULL};
  execve(RUN_DIR "/tb-init", argv, envp);
  _exit(126);
}

/* ---------- PID 1 inside the sandbox ---------- */

static pid_t agent_pid;
static void forward(int sig) {
  if (agent_pid > 0) kill(agent_pid, sig);
}

static int init_main(int argc, char **argv) {
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

/* ---------- host side ---------- */

/* The disk mounted by this launch (or named to cleanup): detached with the overlay above it. */
static const char *g_disk_mount;

static void cleanup_mounts(const char *merged, const char *netns_file) {
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
  if (mkdir(path, 0755) < 0 && errno != EEXIST) { cleanup_mounts(NULL, NULL); die("mkdir %s", path); }
  snprintf(path, sizeof path, "%s/work", o->disk_mount);
  if (mkdir(path, 0755) < 0 && errno != EEXIST) { cleanup_mounts(NULL, NULL); die("mkdir %s", path); }
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

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Common to create and restore: learn our own path (bind-mounted into the sandbox as tb-init), mount the overlay. */
static void mount_root(struct opts *o) {
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
    cleanup_mounts(NULL, NULL);
    errno = e;
    die("make a user namespace for the idmapped layers");
  }
  int rc = userns_fd >= 0 && tb_fs_ids(o->uid_base) < 0
               ? -1
               : tb_mount_overlay(o->merged, o->lower, o->upper, o->work, MS_NODEV, userns_fd);
  if (userns_fd >= 0) {
    int e = errno;
    close(userns_fd);
    if (tb_fs_ids(0) < 0) die("file system IDs back to root");
    errno = e;
  }
  if (rc < 0) {
    int e = errno;
    cleanup_mounts(NULL, NULL);
    errno = e;
    die("mount overlay on %s", o->merged);
  }
}

/* Reports the sandbox's init pid, then stays as its parent: reaps it and records how it ended. */
static int shim(struct opts *o, pid_t pid) {
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

static int create_main(struct opts *o) {
  if (!o->id || !o->lower || !o->upper || !o->work || !o->merged || !o->agent || !o->netns_file || !o->host_if ||
      !o->host_ip || !o->sandbox_ip) {
    fprintf(stderr, "tb-launch: create needs --id --lower --upper --work --merged --agent --netns-file --host-if "
                    "--host-ip --sandbox-ip\n");
    return 2;
  }
  mount_root(o);

  if (pipe2(o->sync_fd, O_CLOEXEC) < 0 || pipe2(o->ready_fd, 0) < 0) {
    cleanup_mounts(o->merged, NULL);
    die("pipe");
  }
  fcntl(o->ready_fd[0], F_SETFD, FD_CLOEXEC);

  char *stack = malloc(STACK_SIZE);
  pid_t pid = clone(child_main, stack + STACK_SIZE,
                    CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD |
                        (o->uid_count ? CLONE_NEWUSER : 0), o);
  if (pid < 0) {
    cleanup_mounts(o->merged, NULL);
    die("clone");
  }
  close(o->sync_fd[0]);
  close(o->ready_fd[1]);

  const char *fail = NULL;
  int veth_created = 0;
  char pidbuf[32];
  snprintf(pidbuf, sizeof pidbuf, "%d", pid);
  if (o->uid_count && tb_userns_map(pid, o->uid_base, o->uid_count) < 0) fail = "map the user namespace";
  for (int i = 0; i < o->ncgroups && !fail; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/cgroup.procs", o->cgroups[i]);
    if (tb_devices_restrict(o->cgroups[i]) < 0) fail = "restrict devices";
    else if (write_file(p, pidbuf) < 0) fail = "join cgroup";
  }
  char nspath[64];
  snprintf(nspath, sizeof nspath, "/proc/%d/ns/net", pid);
  if (!fail && mount(nspath, o->netns_file, NULL, MS_BIND, NULL) < 0) fail = "pin netns";
  if (!fail) {
    /* Offline sandboxes' host links join OFFLINE_LINK_GROUP: the host firewall forwards nothing from that group. */
    char *const argv[] = {"ip", "link", "add", (char *)o->host_if, "group", o->internet ? "0" : OFFLINE_LINK_GROUP, "type",
                          "veth", "peer", "name", "eth0", "netns", pidbuf, NULL};
    if (run_ip(argv) < 0) fail = "create veth";
    else veth_created = 1;
  }
  if (!fail) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (harden_host_link(o->host_if) < 0) fail = "harden host veth";
    else if (sock < 0 || set_addr(sock, o->host_if, o->host_ip, "255.255.255.252") < 0 || link_up(sock, o->host_if) < 0)
      fail = "configure host veth";
    if (sock >= 0) close(sock);
  }
  if (!fail && write(o->sync_fd[1], "g", 1) != 1) fail = "start sandbox";
  close(o->sync_fd[1]);

  if (!fail) {
    struct pollfd pfd = {.fd = o->ready_fd[0], .events = POLLIN};
    long long deadline = now_ms() + READY_TIMEOUT_MS;
    char buf[16];
    ssize_t n = 0;
    for (;;) {
      long long left = deadline - now_ms();
      if (left <= 0) { fail = "agent did not report ready in time"; break; }
      int r = poll(&pfd, 1, (int)left);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) { fail = "agent did not report ready in time"; break; }
      n = read(o->ready_fd[0], buf, sizeof buf);
      if (n <= 0) fail = "agent exited before it was ready";
      break;
    }
  }
  close(o->ready_fd[0]);

  if (fail) {
    int e = errno;
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    /* Only an interface this launch made: when creating it failed, the name belongs to another sandbox. */
    if (veth_created) {
      char del_if[64];
      snprintf(del_if, sizeof del_if, "%s", o->host_if);
      char *const argv[] = {"ip", "link", "del", del_if, NULL};
      run_ip(argv); /* usually gone with the netns already */
    }
    cleanup_mounts(o->merged, o->netns_file);
    errno = e;
    fprintf(stderr, "tb-launch: %s\n", fail);
    return 1;
  }

  return shim(o, pid);
}

/* ---------- restore from a CRIU checkpoint ---------- */

/* Enters target's netns, or (target 0) a new one. */
static int join_or_make_netns(pid_t target) {
  if (!target) return unshare(CLONE_NEWNET);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", target);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = setns(fd, CLONE_NEWNET);
  close(fd);
  return rc;
}

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
    if (join_or_make_netns(target) < 0 || write(up[1], "r", 1) != 1) _exit(1);
    if (read(down[0], &c, 1) != 1) _exit(1);
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) _exit(1);
    if (set_addr(sock, "lo", "127.0.0.1", "255.0.0.0") < 0 || link_up(sock, "lo") < 0) _exit(2);
    if (sandbox_link_ipv6_off() < 0) _exit(5);
    if (set_addr(sock, "eth0", o->sandbox_ip, "255.255.255.252") < 0 || link_up(sock, "eth0") < 0) _exit(3);
    if (o->internet && add_default_route(sock, o->host_ip) < 0) _exit(4);
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  char c;
  char hpid[32];
  snprintf(hpid, sizeof hpid, "%d", helper);
  if (read(up[0], &c, 1) != 1) fail = "make netns";
  if (!fail) {
    char nspath[64];
    snprintf(nspath, sizeof nspath, "/proc/%d/ns/net", helper);
    if (mount(nspath, o->netns_file, NULL, MS_BIND, NULL) < 0) fail = "pin netns";
    else *netns_pinned = 1;
  }
  if (!fail) {
    /* Offline sandboxes' host links join OFFLINE_LINK_GROUP: the host firewall forwards nothing from that group. */
    char *const argv[] = {"ip", "link", "add", (char *)o->host_if, "group", o->internet ? "0" : OFFLINE_LINK_GROUP, "type",
                          "veth", "peer", "name", "eth0", "netns", hpid, NULL};
    if (run_ip(argv) < 0) fail = "create veth";
    else *veth_created = 1;
  }
  if (!fail) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (harden_host_link(o->host_if) < 0) fail = "harden host veth";
    else if (sock < 0 || set_addr(sock, o->host_if, o->host_ip, "255.255.255.252") < 0 || link_up(sock, o->host_if) < 0)
      fail = "configure host veth";
    if (sock >= 0) close(sock);
  }
  if (!fail && write(down[1], "g", 1) != 1) fail = "configure netns";
  close(down[1]);
  close(up[0]);
  int st = 0;
  while (waitpid(helper, &st, 0) < 0 && errno == EINTR) {}
  if (!fail && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) fail = "configure the sandbox network";
  return fail;
}

/*
 * `tb-launch` run by CRIU as its action script (CRTOOLS_SCRIPT_ACTION set; the options come in TB_NET_* variables):
 * at setup-namespaces, wires the netns CRIU made for the restored sandbox (CRTOOLS_INIT_PID). On failure it removes
 * what it made; on success it leaves `<criu-work>/veth` so the launcher knows the interface is this sandbox's.
 */
static int restore_net_script(const char *action) {
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
    if (veth) {
      char *const argv[] = {"ip", "link", "del", (char *)o.host_if, NULL};
      run_ip(argv);
    }
    if (pinned) umount2(o.netns_file, MNT_DETACH);
    return 1;
  }
  char marker[4200];
  snprintf(marker, sizeof marker, "%s/veth", o.criu_work);
  return create_file(marker, o.host_if, 0644) < 0 ? 1 : 0;
}

/*
 * Like create, but the processes come from CRIU images: mount the overlay, make a fresh netns with the veth and the
 * sandbox address (the netns is external to the checkpoint), then run `criu restore` inside the sandbox's cgroups with
 * --restore-sibling so the restored init becomes our child, and stay as its shim.
 */
static int restore_main(struct opts *o) {
  if (!o->id || !o->lower || !o->upper || !o->work || !o->merged || !o->agent || !o->netns_file || !o->host_if ||
      !o->host_ip || !o->sandbox_ip || !o->images || !o->criu || !o->criu_work) {
    fprintf(stderr, "tb-launch: restore needs --id --lower --upper --work --merged --agent --netns-file --host-if "
                    "--host-ip --sandbox-ip --images --criu --criu-work\n");
    return 2;
  }
  mount_root(o);

  const char *fail = NULL;
  int veth_created = 0;
  int netns_pinned = 0;
  int st = 0;
  /* Restored into a user namespace, lazy pages need /dev/userfaultfd (Linux 6.1+; see docs/userns.md): else eager. */
  if (o->uid_count && o->lazy_pages && access("/dev/userfaultfd", R_OK | W_OK) != 0) o->lazy_pages = 0;
  /* In a user namespace CRIU makes the netns (owned by it) and calls us back to wire it (restore_net_script). */
  char veth_marker[4200];
  snprintf(veth_marker, sizeof veth_marker, "%s/veth", o->criu_work);
  unlink(veth_marker);
  char net_error[4200];
  snprintf(net_error, sizeof net_error, "%s/net.error", o->criu_work);
  unlink(net_error);
  if (!o->uid_count) fail = restore_net(o, 0, &veth_created, &netns_pinned);

  for (int i = 0; i < o->ncgroups && !fail; i++)
    if (tb_devices_restrict(o->cgroups[i]) < 0) fail = "restrict devices";

  pid_t pid = -1;
  char pidfile[4096], logname[] = "restore.log";
  snprintf(pidfile, sizeof pidfile, "%s/restore.pid", o->criu_work);
  unlink(pidfile);
  if (!fail && o->lazy_pages) {
    /* The page server: restore maps memory empty and this daemon fills it on first touch (userfaultfd), then copies
       the rest in the background and exits. It reads the images, so they must stay until it is done (lazy.done). */
    char sock[4200], done[4200];
    snprintf(sock, sizeof sock, "%s/lazy-pages.socket", o->criu_work);
    snprintf(done, sizeof done, "%s/lazy.done", o->criu_work);
    unlink(sock);
    unlink(done);
    pid_t lp = fork();
    if (lp < 0) fail = "fork lazy-pages";
    if (lp == 0) {
      int devnull = open("/dev/null", O_RDWR);
      if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
      char *const argv[] = {(char *)o->criu, "lazy-pages", "-D", (char *)o->images, "-W", (char *)o->criu_work,
                            "-o", "lazy-pages.log", "-v2", NULL};
      execv(o->criu, argv);
      _exit(127);
    }
    if (lp > 0) {
      o->lazy_pid = lp;
      long long deadline = now_ms() + 5000;
      while (access(sock, F_OK) != 0) {
        if (now_ms() > deadline || waitpid(lp, NULL, WNOHANG) == lp) { fail = "criu lazy-pages did not start"; o->lazy_pid = 0; break; }
        usleep(2000);
      }
    }
  }
  if (!fail) {
    int nsfd = open(o->netns_file, O_RDONLY); /* inherited by criu: --inherit-fd */
    if (nsfd < 0) fail = "open netns";
    pid_t criu = nsfd < 0 ? -1 : fork();
    if (nsfd >= 0 && criu < 0) fail = "fork criu";
    if (criu == 0) {
      char pidbuf[32];
      snprintf(pidbuf, sizeof pidbuf, "%d", getpid());
      /* Lazy pages in a user namespace: CRIU (patched) makes its userfaultfds from the device, which the sandbox's
         device cgroup would refuse to open. */
      int uffd_dev = o->uid_count && o->lazy_pages ? open("/dev/userfaultfd", O_RDWR) : -1;
      for (int i = 0; i < o->ncgroups; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/cgroup.procs", o->cgroups[i]);
        if (write_file(p, pidbuf) < 0) { fprintf(stderr, "tb-launch: join cgroup %s: %s\n", o->cgroups[i], strerror(errno)); _exit(125); }
      }
      char inherit[64], envd[4200], tbinit[4200];
      snprintf(inherit, sizeof inherit, "fd[%d]:extnet", nsfd);
      snprintf(envd, sizeof envd, "mnt[envd]:%s", o->agent);
      snprintf(tbinit, sizeof tbinit, "mnt[tbinit]:%s", o->self);
      int devnull = open("/dev/null", O_RDWR);
      if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); }
      char *argv[40 + 2 * NDEVS] = {(char *)o->criu, "restore", "-D", (char *)o->images, "-W", (char *)o->criu_work,
                            "-o", logname, "-v2",
                            "--root", (char *)o->merged, "--restore-detached", "--restore-sibling", "--tcp-close",
                            "--file-locks", "--manage-cgroups=ignore", "--inherit-fd", inherit, "--external", envd,
                            "--external", tbinit, "--pidfile", pidfile};
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
      char devmap[NDEVS][64];
      for (size_t i = 0; o->uid_count && i < NDEVS; i++) {
        snprintf(devmap[i], sizeof devmap[i], "mnt[dev-%s]:/%s", devs[i].name + 4, devs[i].name);
        argv[argc++] = "--external";
        argv[argc++] = devmap[i];
      }
      execv(o->criu, argv);
      _exit(127);
    }
    if (criu > 0) {
      while (waitpid(criu, &st, 0) < 0 && errno == EINTR) {}
      if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) fail = "criu restore failed";
    }
    if (nsfd >= 0) close(nsfd);
  }
  if (!fail) {
    char buf[32] = {0};
    int fd = open(pidfile, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0) fail = "criu wrote no pid";
    if (fd >= 0) close(fd);
    pid = atoi(buf);
    if (!fail && pid <= 1) fail = "criu wrote a bad pid";
  }
  if (fail) {
    int e = errno;
    if (o->uid_count) {
      veth_created = access(veth_marker, F_OK) == 0; /* the action script made it */
      netns_pinned = 1;
      /* The action script's reason is the better one (e.g. "create veth": the driver retries on another slot). */
      static char why[300];
      char path[4200];
      snprintf(path, sizeof path, "%s/net.error", o->criu_work);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      ssize_t n = fd < 0 ? -1 : read(fd, why, sizeof why - 1);
      if (fd >= 0) close(fd);
      if (n > 0) {
        why[n] = 0;
        why[strcspn(why, "\n")] = 0;
        fail = why;
        e = 0;
      }
    }
    if (pid > 1) { kill(pid, SIGKILL); waitpid(pid, &st, 0); }
    if (o->lazy_pid > 0) { kill(o->lazy_pid, SIGKILL); waitpid(o->lazy_pid, NULL, 0); }
    if (veth_created) {
      char del_if[64];
      snprintf(del_if, sizeof del_if, "%s", o->host_if);
      char *const argv[] = {"ip", "link", "del", del_if, NULL};
      run_ip(argv);
    }
    cleanup_mounts(o->merged, netns_pinned ? o->netns_file : NULL);
    errno = e;
    fprintf(stderr, "tb-launch: %s\n", fail);
    return 1;
  }
  return shim(o, pid);
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

int main(int argc, char **argv) {
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  if (!strcmp(base, "tb-init")) return init_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "reap")) return reap_main(argc, argv);
  if (argc == 1 && getenv("CRTOOLS_SCRIPT_ACTION")) return restore_net_script(getenv("CRTOOLS_SCRIPT_ACTION"));
  if (argc < 2) {
    fprintf(stderr, "usage: tb-launch create|restore|cleanup|devices [options]\n");
    return 2;
  }
  struct opts o;
  memset(&o, 0, sizeof o);
  if (parse(&o, argc, argv) < 0) return 2;
  if (!strcmp(argv[1], "create")) return create_main(&o);
  if (!strcmp(argv[1], "restore")) return restore_main(&o);
  if (!strcmp(argv[1], "devices")) {
    /* `tb-launch devices --cgroup DIR...`: the sandbox device policy on existing cgroups (tests use it on v2). */
    for (int i = 0; i < o.ncgroups; i++)
      if (tb_devices_restrict(o.cgroups[i]) < 0) die("restrict devices of %s", o.cgroups[i]);
    return 0;
  }
  if (!strcmp(argv[1], "cleanup")) {
    g_disk_mount = o.disk_mount;
    cleanup_mounts(o.merged, o.netns_file);
    if (o.host_if) {
      char *const a[] = {"ip", "link", "del", (char *)o.host_if, NULL};
      if (access("/sys/class/net", F_OK) == 0) {
        char p[128];
        snprintf(p, sizeof p, "/sys/class/net/%s", o.host_if);
        if (access(p, F_OK) == 0) run_ip(a);
      }
    }
    return 0;
  }
  fprintf(stderr, "tb-launch: unknown command %s\n", argv[1]);
  return 2;
}
