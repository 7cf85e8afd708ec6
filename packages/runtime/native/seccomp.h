/* The sandbox's capability bounding set and seccomp filter (profile: packages/runtime/seccomp/<arch>.profile,
   compiled in at build time). */
#ifndef TB_SECCOMP_H
#define TB_SECCOMP_H

/* Sets no_new_privs when asked, then installs the filter on the calling thread. 0, or -1 with errno. */
int tb_seccomp_install(int no_new_privs);

/* Drops every capability but Docker's default set (minus CAP_MKNOD) from the bounding set. 0, or -1 with errno. */
int tb_drop_caps(void);

#endif
