# Tensor Box seccomp profile for x86_64 sandboxes (AUDIT_ARCH_X86_64; no i386, no x32).
#
# Modelled on Docker's default profile (moby/profiles seccomp/default.json) for a process whose capability bounding
# set is the launcher's (Docker's default set minus CAP_MKNOD: CHOWN DAC_OVERRIDE FSETID FOWNER NET_RAW SETGID SETUID
# SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE): an allow-list, everything else fails with EPERM.
# Compiled to BPF at build time by native/seccomp-compile.c (libseccomp) and embedded in tb-launch (build.sh).
#
# Format, one rule per line ('#' starts a comment):
#   arch <libseccomp arch>           the one architecture this profile is for (others are killed: see badarch)
#   default errno <ERRNO>            what a syscall no rule names gets
#   badarch kill-process             what a syscall of another architecture (int 0x80, x32) gets
#   allow <syscall>...               allowed unconditionally
#   allow <syscall> if arg<N> <op> <value>        op: == != < <= > >=, or  arg<N> & <mask> == <value>
#   errno <ERRNO> <syscall>...       fails with that errno (ENOSYS makes libc fall back to an older call)
# A syscall the build's libseccomp does not know yet is written <name>=<number> (this architecture's number).
# Deviations from Docker's profile are marked "Tensor Box:".

arch x86_64
default errno EPERM
badarch kill-process

# --- files and directories
allow access faccessat faccessat2 open openat openat2 creat close close_range read readv pread64 preadv preadv2
allow write writev pwrite64 pwritev pwritev2 lseek readahead sendfile copy_file_range splice tee vmsplice
allow stat fstat lstat newfstatat statx statfs fstatfs truncate ftruncate fallocate fadvise64
allow fsync fdatasync sync syncfs sync_file_range flock fcntl dup dup2 dup3 ioctl
allow chdir fchdir getcwd mkdir mkdirat rmdir rename renameat renameat2 link linkat symlink symlinkat
allow unlink unlinkat readlink readlinkat getdents getdents64 chmod fchmod fchmodat fchmodat2
allow chown fchown lchown fchownat umask utime utimes utimensat futimesat mknod mknodat
allow getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr listxattr llistxattr flistxattr
allow removexattr lremovexattr fremovexattr
allow setxattrat=463 getxattrat=464 listxattrat=465 removexattrat=466
allow inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark
allow memfd_create memfd_secret cachestat
# Tensor Box: chroot is allowed because the bounding set keeps CAP_SYS_CHROOT (Docker: the same rule).
allow chroot
# Reading the own mount table (as /proc/self/mountinfo does).
allow statmount=457 listmount=458

# --- memory
allow brk mmap munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock munlockall
allow remap_file_pages membarrier pkey_alloc pkey_free pkey_mprotect map_shadow_stack mseal=462
allow process_mrelease

# --- processes, threads, signals
allow execve execveat exit exit_group fork vfork wait4 waitid kill tkill tgkill getpid getppid gettid
allow getpgid getpgrp setpgid getsid setsid getpriority setpriority prlimit64 getrlimit setrlimit getrusage
allow rt_sigaction rt_sigprocmask rt_sigpending rt_sigqueueinfo rt_tgsigqueueinfo rt_sigreturn rt_sigsuspend
allow rt_sigtimedwait sigaltstack signalfd signalfd4 pause restart_syscall
allow pidfd_open pidfd_send_signal set_tid_address set_robust_list get_robust_list rseq
allow futex futex_waitv futex_wake futex_wait=455 futex_requeue=456
allow arch_prctl modify_ldt get_thread_area set_thread_area prctl seccomp capget capset
allow sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr sched_getparam sched_setparam
allow sched_getscheduler sched_setscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval
allow getcpu ioprio_get ioprio_set uname sysinfo times getrandom uretprobe=335
# Debugging one's own processes (Docker: kernel >= 4.8, where ptrace cannot bypass seccomp).
allow ptrace process_vm_readv process_vm_writev
# Only the personalities Docker allows (Linux, with UNAME26 / READ_IMPLIES_EXEC variants, and the query).
allow personality if arg0 == 0
allow personality if arg0 == 8
allow personality if arg0 == 131072
allow personality if arg0 == 131080
allow personality if arg0 == 4294967295
# New processes and threads, but never new namespaces: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
allow clone if arg0 & 0x7E020000 == 0
# clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes glibc and Go fall back to clone.
errno ENOSYS clone3

# --- identities
allow getuid geteuid getgid getegid getresuid getresgid getgroups setuid setgid setreuid setregid
allow setresuid setresgid setgroups setfsuid setfsgid

# --- time
allow clock_gettime clock_getres clock_nanosleep gettimeofday time nanosleep alarm getitimer setitimer
allow timer_create timer_delete timer_gettime timer_settime timer_getoverrun
allow timerfd_create timerfd_gettime timerfd_settime

# --- polling, events, IPC
allow poll ppoll select pselect6 epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2
allow eventfd eventfd2 pipe pipe2 msgget msgsnd msgrcv msgctl semget semop semtimedop semctl
allow shmget shmat shmdt shmctl mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr
# Linux native AIO (io_setup & co.). Tensor Box: io_uring is not here (Docker dropped it too): a large kernel attack
# surface that also bypasses this filter for the operations it submits.
allow io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents

# --- network
allow socketpair bind listen accept accept4 connect getsockname getpeername getsockopt setsockopt
allow sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg shutdown
# Every address family but AF_VSOCK (40): the host's vsock services are not for sandboxes.
allow socket if arg0 != 40

# --- sandboxing oneself
allow landlock_create_ruleset landlock_add_rule landlock_restrict_self

# Not allowed (EPERM by default), among others — Docker gates most of them on capabilities the bounding set lacks:
#   mount umount2 pivot_root fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr   (CAP_SYS_ADMIN)
#   unshare setns, clone with namespace flags                                                  (CAP_SYS_ADMIN)
#   init_module finit_module delete_module kexec_load kexec_file_load reboot swapon swapoff
#   bpf perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register keyctl add_key request_key
#   acct settimeofday clock_settime iopl ioperm quotactl quotactl_fd lookup_dcookie uselib vhangup syslog
#   sethostname setdomainname kcmp pidfd_getfd process_madvise mbind set_mempolicy get_mempolicy
#   open_by_handle_at, and (Tensor Box, stricter than Docker) name_to_handle_at adjtimex clock_adjtime.
