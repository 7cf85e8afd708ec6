/*
 * What the parts of tb-launch share: its options, constants, and the functions each file offers the others.
 *   main.c     command line, dispatch, `cleanup`, `devices`, `reap`, small file helpers
 *   shim.c     `create`, and the shim the launcher stays as (reaps the sandbox, records its exit)
 *   restore.c  `restore` from CRIU images (lazy-pages server, criu restore) and CRIU's network action script
 *   net.c      the sandbox link: one host-side setup shared by create and restore, the sandbox side, teardown
 *   mounts.c   the overlay root and the sandbox's disk on the host; /dev, proc, sys, /run, /etc, pivot_root inside
 *   init.c     the sandbox's first process (namespaces → tb-init) and tb-init itself (PID 1: starts envd, reaps)
 *   seccomp.c  the capability bounding set and the seccomp filter
 *   volumes.c  host directories bound into the sandbox (--volume HOST PATH)
 */
#ifndef TB_LAUNCH_H
#define TB_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

#define MAX_CGROUPS 16
#define MAX_VOLUMES 16
#define READY_FD 3
/* Device group of offline sandboxes' host links (firewall.ts drops what they forward; same OFFLINE_LINK_GROUP). */
#define OFFLINE_LINK_GROUP "29762"
#define RUN_DIR "/run/tensor-box"
#define REL_RUN_DIR "run/tensor-box"
#include "envd-port.gen.h" /* ENVD_PORT, from spec/envd/envd.yaml */

struct opts {
  const char *id, *lower, *upper, *work, *merged, *agent, *netns_file, *host_if, *host_ip, *sandbox_ip;
  const char *hostname, *exit_file, *resolv_conf, *self;
  const char *images, *criu, *criu_work; /* restore: CRIU images (read only), binary, dir for its log and pidfile */
  const char *disk_image, *disk_mount, *disk_blank;
  const char *cgroups[MAX_CGROUPS];
  int ncgroups, internet, no_new_privs, lazy_pages;
  const char *vol_host[MAX_VOLUMES], *vol_path[MAX_VOLUMES]; /* --volume HOST PATH */
  int nvolumes, vol_fd[MAX_VOLUMES]; /* detached mounts of the volumes (tb_volumes_open) */
  unsigned uid_base, uid_count; /* --uid-base/--uid-count: own user namespace mapping 0.. to uid_base.. (userns.c) */
  pid_t lazy_pid; /* restore --lazy-pages: the CRIU page server for the restored tree */
  int sync_fd[2];  /* parent -> child: "go" */
  int ready_fd[2]; /* agent -> parent: "ready\n" */
};

/* ---- main.c ---- */
/* Prints "tb-launch: <what>[: strerror(errno)]" on stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Writes data into an existing file. 0 or -1/errno. */
int write_file(const char *path, const char *data);
/* Creates (or truncates) a file with data; never follows a symlink. 0 or -1. */
int create_file(const char *path, const char *data, mode_t mode);
long long now_ms(void);
/* Writes pid into cgroup_dir/cgroup.procs. 0 or -1/errno. */
int join_cgroup(const char *cgroup_dir, pid_t pid);

/* ---- net.c ---- */
/*
 * The host side of a sandbox link, the same for create and restore: pins the network namespace of nspid on
 * o->netns_file, makes the veth pair (host end o->host_if, its peer eth0 in that namespace; offline links join
 * OFFLINE_LINK_GROUP), hardens the host end and gives it o->host_ip/30. NULL, or the step that failed (errno set);
 * *pinned and *veth say what it made, for the caller's cleanup.
 */
const char *tb_net_wire_host(const struct opts *o, pid_t nspid, int *pinned, int *veth);
/* Inside the sandbox's netns: lo up, eth0 with o->sandbox_ip/30 and no IPv6, the default route when online.
   NULL, or the step that failed (errno set). */
const char *tb_net_configure_sandbox(const struct opts *o);
/* Deletes a host link if it (still) exists; quiet. */
void tb_net_del_host_if(const char *host_if);
/* Enters target's netns, or (target 0) a new one. 0 or -1/errno. */
int tb_net_join_or_make(pid_t target);

/* ---- mounts.c ---- */
/* Device nodes of the sandbox's /dev (in a user namespace: binds of the host's, external mounts `dev-<name>` of a
   checkpoint); names relative to the root. */
#define TB_NDEVS 6
extern const char *const tb_dev_names[TB_NDEVS];
/* Common to create and restore: learns our own path (o->self, bound into the sandbox as tb-init), mounts the disk
   (when given) and the overlay root. Dies (having undone its mounts) on failure. */
void tb_mount_root(struct opts *o);
/* Lazily detaches the pinned netns, the overlay and the disk this launch mounted (or the one set by
   tb_set_disk_mount); NULL arguments are skipped. */
void tb_cleanup_mounts(const char *merged, const char *netns_file);
void tb_set_disk_mount(const char *disk_mount);
/* Inside the new mount namespace, cwd = the new root: mount points, proc, sys, /dev, /run with the agent and tb-init
   bound read-only, the host views masked, /etc/{hosts,hostname,resolv.conf}. Dies on failure. */
void tb_populate_root(const struct opts *o, const char *hostname, const char *agent, const char *self);
/* pivot_root into cwd and drop the old root. Dies on failure. */
void tb_pivot_root(void);
void tb_mk(const char *path, mode_t mode);
void tb_mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data);

/* ---- init.c ---- */
/* The sandbox's first process (clone()d by create): configures its namespaces, then execs tb-init. */
int tb_sandbox_main(void *opts);
/* tb-init <ready-fd> <agent> [args...]: PID 1 of a sandbox. */
int tb_init_main(int argc, char **argv);

/* ---- shim.c / restore.c ---- */
int tb_create_main(struct opts *o);
/* Reports the sandbox's init pid on stdout, then stays as its parent until it ends. */
int tb_shim(struct opts *o, pid_t pid);
int tb_restore_main(struct opts *o);
int tb_restore_net_script(const char *action);

/* ---- volumes.c ---- */
/* On the host (tb_mount_root): a detached mount of each --volume directory, idmapped through userns_fd when >= 0.
   NULL, or the directory that failed (errno set). */
const char *tb_volumes_open(struct opts *o, int userns_fd);
/* Inside the sandbox after pivot_root: makes each volume's path (mkdir -p) and attaches its mount there. Dies. */
void tb_volumes_attach(const struct opts *o);
/* restore: attaches each volume at a staging path for CRIU's `--external mnt[vol-<i>]:<tb_volumes_staged(i)>`.
   NULL or why not. */
const char *tb_volumes_stage(const struct opts *o);
const char *tb_volumes_staged(int i);
/* Detaches what tb_volumes_stage attached (the restored sandbox keeps its own binds). */
void tb_volumes_unstage(const struct opts *o);

#endif
