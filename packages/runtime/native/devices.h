/* The device allow-list of a sandbox's cgroup (devices.c). */
#ifndef TB_DEVICES_H
#define TB_DEVICES_H

/* Restricts the devices the processes of one of the sandbox's cgroup directories may use: v1 devices controller
   directory → devices.deny/allow; cgroup v2 directory → an attached BPF device program; any other → nothing.
   Call before a process joins. 0 or -1/errno. */
int tb_devices_restrict(const char *cgroup_dir);

#endif
