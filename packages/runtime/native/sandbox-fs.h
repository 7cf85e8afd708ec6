/* A sandbox's file system view without the host in it (sandbox-fs.c). Paths are relative to the new root (cwd). */
#ifndef TB_SANDBOX_FS_H
#define TB_SANDBOX_FS_H

/* Mounts the overlay root on merged from descriptors on its layers (no host path in its options); with userns_fd >= 0
   every layer is an idmapped clone through that user namespace (userns.h). 0 or -1/errno. */
int tb_mount_overlay(const char *merged, const char *lower, const char *upper, const char *work, unsigned long flags,
                     int userns_fd);

/* Makes run_dir a read-only mount point holding read-only binds of agent (envd) and init (tb-init), and an empty
   directory `empty` (what masks are made of). NULL, or the path that failed (errno set). */
const char *tb_mount_agent(const char *run_dir, const char *agent, const char *init);

/* Masks the host inventories under proc/ and sys/ with binds of the empty directory `empty` and of dev/null.
   NULL, or the path that failed (errno set). */
const char *tb_mask_host_views(const char *empty);

#endif
