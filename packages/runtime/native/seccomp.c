/*
 * The sandbox's confinement of privileges. The capability bounding set keeps Docker's default set minus CAP_MKNOD
 * (tb_drop_caps). The seccomp filter (tb_seccomp_install) is the BPF program build.sh compiled from
 * seccomp/<arch>.profile with libseccomp (native/seccomp-compile.c), embedded as data. Loading it is one prctl; the
 * filter is inherited by every process of the sandbox and, after a pause, CRIU puts it back on each restored process.
 */
#define _GNU_SOURCE
#include "seccomp.h"

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

#include "seccomp-filter.h" /* generated: tb_seccomp_filter[] */

int tb_seccomp_install(int no_new_privs) {
  struct sock_fprog prog = {
    .len = (unsigned short)(sizeof tb_seccomp_filter / sizeof tb_seccomp_filter[0]),
    .filter = (struct sock_filter *)tb_seccomp_filter,
  };
  if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Docker's default capability set; everything else leaves the bounding set (and so every process in the sandbox). */
static const int kept_caps[] = {
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP,
  CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
};

int tb_drop_caps(void) {
  for (int c = 0; c <= 63; c++) {
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0) break; /* past the kernel's last cap */
    int keep = 0;
    for (size_t k = 0; k < sizeof kept_caps / sizeof kept_caps[0]; k++) keep |= kept_caps[k] == c;
    if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) return -1;
  }
  /* The inheritable/ambient sets start empty for root; exec recomputes permitted = bounding for uid 0. */
  return 0;
}
