/*
 * Installs the sandbox's seccomp filter: the BPF program build.sh compiled from seccomp/<arch>.profile with libseccomp
 * (native/seccomp-compile.c), embedded as data. Loading it is one prctl; the filter is inherited by every process of
 * the sandbox and, after a pause, CRIU puts it back on each restored process.
 */
#define _GNU_SOURCE
#include "seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
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
