/*
 * Which device nodes a sandbox may use (see devices.h): one allow-list, enforced by the devices cgroup on cgroup v1
 * (devices.deny "a", then one devices.allow line per entry) and on cgroup v2 by an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE attached to the sandbox's cgroup (v2 has no devices controller). Everything else —
 * block devices above all — can be neither opened nor created, even if a node for it appears in the sandbox
 * (the sandbox's mounts are also nodev and CAP_MKNOD is not in its bounding set: this is the layer below those).
 *
 * The eBPF program, for ctx = struct bpf_cgroup_dev_ctx { access_type = access << 16 | type, major, minor }:
 *   r2 = access, r3 = type, r4 = major, r5 = minor
 *   for each rule: if type, major (unless any), minor (unless any) match and (access & ~rule.access) == 0: return 1
 *   return 0
 */
#define _GNU_SOURCE
#include "devices.h"
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ANY (-1)

struct dev_rule {
  char type; /* 'c' or 'b' */
  int major, minor;
  const char *access; /* of "rwm" */
  const char *what;
};

/* The usual container devices; /dev/ptmx is the devpts instance's own (pts/ptmx, 5:2). */
static const struct dev_rule rules[] = {
  {'c', 1, 3, "rwm", "null"},    {'c', 1, 5, "rwm", "zero"},     {'c', 1, 7, "rwm", "full"},
  {'c', 1, 8, "rwm", "random"},  {'c', 1, 9, "rwm", "urandom"},  {'c', 5, 0, "rwm", "tty"},
  {'c', 5, 2, "rwm", "ptmx"},    {'c', 136, ANY, "rwm", "pts/*"},
};
#define NRULES (sizeof rules / sizeof rules[0])

static int apply_v1(const char *dir) {
  char path[4200], line[64];
  snprintf(path, sizeof path, "%s/devices.deny", dir);
  if (write_file(path, "a") < 0) return -1;
  snprintf(path, sizeof path, "%s/devices.allow", dir);
  for (size_t i = 0; i < NRULES; i++) {
    char maj[16], min[16];
    snprintf(maj, sizeof maj, rules[i].major == ANY ? "*" : "%d", rules[i].major);
    snprintf(min, sizeof min, rules[i].minor == ANY ? "*" : "%d", rules[i].minor);
    snprintf(line, sizeof line, "%c %s:%s %s", rules[i].type, maj, min, rules[i].access);
    if (write_file(path, line) < 0) return -1;
  }
  return 0;
}

static unsigned access_bits(const char *s) {
  unsigned a = 0;
  for (; *s; s++)
    a |= *s == 'r' ? BPF_DEVCG_ACC_READ : *s == 'w' ? BPF_DEVCG_ACC_WRITE : *s == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
  return a;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MAX_INSNS (8 + 8 * NRULES)

/* Builds the program described in the header; returns its length. */
static int build_program(struct bpf_insn *p) {
  int n = 0;
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0); /* r2 = access_type */
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0);
  p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, 3, 0, 0, 0xffff); /* r3 = type */
  p[n++] = INSN(BPF_ALU64 | BPF_RSH | BPF_K, 2, 0, 0, 16);     /* r2 = access */
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0);        /* r4 = major */
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0);        /* r5 = minor */
  for (size_t i = 0; i < NRULES; i++) {
    int jumps[4], nj = 0;
    int type = rules[i].type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
    jumps[nj++] = n;
    p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 3, 0, 0, type);
    if (rules[i].major != ANY) {
      jumps[nj++] = n;
      p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, rules[i].major);
    }
    if (rules[i].minor != ANY) {
      jumps[nj++] = n;
      p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, rules[i].minor);
    }
    p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 0, 2, 0, 0);
    p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, (int)(~access_bits(rules[i].access) & 0xffff));
    jumps[nj++] = n;
    p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 0, 0);
    p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
    p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (int j = 0; j < nj; j++) p[jumps[j]].off = (short)(n - jumps[j] - 1); /* to the next rule */
  }
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
  p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  return n;
}

static int apply_v2(const char *dir) {
  struct bpf_insn prog[MAX_INSNS];
  int len = build_program(prog);
  static char log[4096];
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (__u64)(unsigned long)prog;
  attr.insn_cnt = (__u32)len;
  attr.license = (__u64)(unsigned long)"Apache-2.0";
  attr.log_buf = (__u64)(unsigned long)log;
  attr.log_size = sizeof log;
  attr.log_level = 1;
  int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (pfd < 0) return -1;
  int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) {
    int e = errno;
    close(pfd);
    return errno = e, -1;
  }
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (__u32)cg;
  attr.attach_bpf_fd = (__u32)pfd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = 0; /* exclusive: nothing below may attach another (the sandbox cannot call bpf anyway) */
  int rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
  int e = errno;
  close(cg);
  close(pfd); /* the attachment holds the program */
  errno = e;
  return rc;
}

int tb_devices_restrict(const char *cgroup_dir) {
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/devices.allow", cgroup_dir);
  if (access(probe, F_OK) == 0) return apply_v1(cgroup_dir);
  snprintf(probe, sizeof probe, "%s/cgroup.controllers", cgroup_dir);
  if (access(probe, F_OK) == 0) return apply_v2(cgroup_dir);
  return 0; /* another v1 controller's directory: not about devices */
}
