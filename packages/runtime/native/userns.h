/* A sandbox's user namespace and the idmapped mounts that let it use the shared layers (userns.c). */
#ifndef TB_USERNS_H
#define TB_USERNS_H

#include <sys/types.h>

/* Writes "0 base count" as pid's uid and gid map (pid: a child in a fresh user namespace, not yet mapped). 0 or -1. */
int tb_userns_map(pid_t pid, unsigned base, unsigned count);

/* In a freshly mapped user namespace: become its root (our host IDs are not in the map until we do). 0 or -1. */
int tb_userns_become_root(void);

/* A user namespace with that map, for idmapped mounts: an open descriptor on it (O_CLOEXEC), or -1/errno. */
int tb_userns_open(unsigned base, unsigned count);

/* Sets this thread's file system IDs to id (id = the map's base: the overlay then works on its idmapped layers as the
   sandbox's root, and knows no unmapped owner) and keeps every capability effective. 0 or -1/errno. */
int tb_fs_ids(unsigned id);

/* A detached clone of the tree at path, idmapped through userns_fd: an O_PATH-like mount descriptor, or -1/errno. */
int tb_idmapped_tree(const char *path, int userns_fd);

#endif
