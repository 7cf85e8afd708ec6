/*
 * seccomp-compile: turns a seccomp profile (packages/runtime/seccomp/<arch>.profile, format in its header) into a C
 * header holding the BPF program libseccomp generates for it:
 *
 *   seccomp-compile <profile> <out.h>
 *
 * The header defines `tb_seccomp_arch` (the AUDIT_ARCH_* the filter admits), `tb_seccomp_filter[]` (struct
 * sock_filter) and `tb_seccomp_allowed` (how many syscalls the profile allows). It is a build-time tool (build.sh):
 * the launcher embeds the finished program and loads it with one prctl, so creating a sandbox pays nothing for the
 * profile and the static launcher does not carry libseccomp. A profile line it cannot read, a syscall name
 * libseccomp does not know (without an explicit =number) or an architecture other than the build host's is an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_WORDS 64

static const char *g_file;
static int g_line;

static void fail(const char *fmt, const char *arg) {
  fprintf(stderr, "seccomp-compile: %s:%d: ", g_file, g_line);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(1);
}

static const struct { const char *name; int value; } errnos[] = {
  {"EPERM", EPERM}, {"ENOSYS", ENOSYS}, {"EACCES", EACCES}, {"EINVAL", EINVAL},
};

static int errno_of(const char *name) {
  for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
    if (!strcmp(errnos[i].name, name)) return errnos[i].value;
  fail("unknown errno %s", name);
  return 0;
}

static int syscall_of(const char *word) {
  char name[128];
  snprintf(name, sizeof name, "%s", word);
  char *eq = strchr(name, '=');
  if (eq) *eq = 0;
  int nr = seccomp_syscall_resolve_name(name);
  if (nr >= 0) {
    if (eq && atoi(eq + 1) != nr) fail("%s: number differs from libseccomp's", word);
    return nr;
  }
  if (!eq) fail("syscall %s unknown to this libseccomp for this architecture (write name=number)", name);
  char *end;
  long n = strtol(eq + 1, &end, 10);
  if (*end || n < 0) fail("bad syscall number in %s", word);
  return (int)n;
}

static unsigned long long number(const char *w) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(w, &end, 0);
  if (errno || *end) fail("bad number %s", w);
  return v;
}

/* "arg<N> <op> <value>" or "arg<N> & <mask> == <value>" → one comparison. */
static struct scmp_arg_cmp condition(char **w, int n) {
  if (n < 3 || strncmp(w[0], "arg", 3) || w[0][3] < '0' || w[0][3] > '5' || w[0][4]) fail("bad condition at %s", w[0]);
  unsigned arg = (unsigned)(w[0][3] - '0');
  if (n == 5 && !strcmp(w[1], "&") && !strcmp(w[3], "=="))
    return (struct scmp_arg_cmp)SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, number(w[2]), number(w[4]));
  if (n != 3) fail("bad condition at %s", w[0]);
  static const struct { const char *op; enum scmp_compare cmp; } ops[] = {
    {"==", SCMP_CMP_EQ}, {"!=", SCMP_CMP_NE}, {"<", SCMP_CMP_LT}, {"<=", SCMP_CMP_LE}, {">", SCMP_CMP_GT},
    {">=", SCMP_CMP_GE},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(ops[i].op, w[1])) return (struct scmp_arg_cmp)SCMP_CMP(arg, ops[i].cmp, number(w[2]));
  fail("unknown comparison %s", w[1]);
  return (struct scmp_arg_cmp){0};
}

/* Adds one rule per syscall named in w[0..n) (up to an "if"), with that action. Returns how many were added. */
static int add_rules(scmp_filter_ctx ctx, uint32_t action, char **w, int n) {
  int names = 0;
  while (names < n && strcmp(w[names], "if")) names++;
  if (names == 0) fail("no syscall named%s", "");
  int has_cond = names < n;
  struct scmp_arg_cmp cmp = {0};
  if (has_cond) cmp = condition(w + names + 1, n - names - 1);
  for (int i = 0; i < names; i++) {
    int nr = syscall_of(w[i]);
    int rc = has_cond ? seccomp_rule_add_exact(ctx, action, nr, 1, cmp) : seccomp_rule_add_exact(ctx, action, nr, 0);
    if (rc < 0) fail("libseccomp refused the rule for %s", w[i]);
  }
  return names;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: seccomp-compile <profile> <out.h>\n");
    return 2;
  }
  g_file = argv[1];
  FILE *in = fopen(argv[1], "r");
  if (!in) { perror(argv[1]); return 1; }
  scmp_filter_ctx ctx = NULL;
  uint32_t arch = 0;
  int allowed = 0;
  uint32_t def = SCMP_ACT_ERRNO(EPERM);
  char line[4096];
  while (fgets(line, sizeof line, in)) {
    g_line++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *w[MAX_WORDS];
    int n = 0;
    for (char *t = strtok(line, " \t\r\n"); t && n < MAX_WORDS; t = strtok(NULL, " \t\r\n")) w[n++] = t;
    if (n == 0) continue;
    if (!strcmp(w[0], "arch") && n == 2) {
      arch = seccomp_arch_resolve_name(w[1]);
      if (!arch) fail("unknown architecture %s", w[1]);
      if (arch != seccomp_arch_native()) fail("architecture %s is not this build host's", w[1]);
      continue;
    }
    if (!strcmp(w[0], "default") && n == 3 && !strcmp(w[1], "errno")) {
      def = SCMP_ACT_ERRNO((uint32_t)errno_of(w[2]));
      continue;
    }
    if (!strcmp(w[0], "badarch") && n == 2) {
      if (strcmp(w[1], "kill-process")) fail("badarch must be kill-process, not %s", w[1]);
      continue;
    }
    if (!arch) fail("the profile must start with arch, default and badarch%s", "");
    if (!ctx) {
      ctx = seccomp_init(def);
      if (!ctx) fail("seccomp_init failed%s", "");
      /* The launcher decides about no_new_privs itself (sudo needs it off). */
      if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
          seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
        fail("cannot set the filter attributes%s", "");
    }
    if (!strcmp(w[0], "allow")) allowed += add_rules(ctx, SCMP_ACT_ALLOW, w + 1, n - 1);
    else if (!strcmp(w[0], "errno") && n >= 3) add_rules(ctx, SCMP_ACT_ERRNO((uint32_t)errno_of(w[1])), w + 2, n - 2);
    else fail("cannot read the rule '%s'", w[0]);
  }
  fclose(in);
  if (!ctx) { g_line = 0; fail("no rules%s", ""); }

  int mfd = memfd_create("bpf", 0);
  if (mfd < 0 || seccomp_export_bpf(ctx, mfd) < 0) { perror("export bpf"); return 1; }
  off_t len = lseek(mfd, 0, SEEK_END);
  unsigned char *bpf = malloc((size_t)len);
  if (!bpf || pread(mfd, bpf, (size_t)len, 0) != len) { perror("read bpf"); return 1; }
  FILE *out = fopen(argv[2], "w");
  if (!out) { perror(argv[2]); return 1; }
  fprintf(out, "/* Generated by seccomp-compile from %s: do not edit. */\n", argv[1]);
  fprintf(out, "#define TB_SECCOMP_PROFILE \"%s\"\n", strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1]);
  fprintf(out, "static const unsigned tb_seccomp_arch = 0x%xu;\n", arch);
  fprintf(out, "static const int tb_seccomp_allowed = %d;\n", allowed);
  fprintf(out, "static const struct sock_filter tb_seccomp_filter[] = {\n");
  for (off_t i = 0; i + 8 <= len; i += 8) {
    struct { unsigned short code; unsigned char jt, jf; unsigned k; } ins;
    memcpy(&ins, bpf + i, sizeof ins);
    fprintf(out, "  {0x%04x, %u, %u, 0x%08x},\n", ins.code, ins.jt, ins.jf, ins.k);
  }
  fprintf(out, "};\n");
  if (fclose(out) != 0) { perror(argv[2]); return 1; }
  seccomp_release(ctx);
  return 0;
}
