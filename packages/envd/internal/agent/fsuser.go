package agent

// File operations as a user. Linux keeps the filesystem uid/gid and the supplementary groups per thread, so a file
// operation done on a locked OS thread whose fsuid/fsgid/groups are the user's is permission-checked exactly as if the
// user did it, and what it creates is owned by the user — no forked helper needed. Go never clones new threads from a
// locked thread (it uses a clean template thread), so the changed credentials cannot leak into other threads.

import (
	"runtime"
	"syscall"
	"unsafe"
)

// asUser runs fn with the user's filesystem credentials. Only the calls fn makes on its own goroutine are affected;
// fn must not hand work to other goroutines. Without root (tests), fn simply runs as the current user.
func asUser(u *sandboxUser, fn func() error) error {
	if syscall.Geteuid() != 0 || u.UID == 0 {
		return fn()
	}
	runtime.LockOSThread()
	saved := make([]uint32, 256)
	n, _, e := syscall.RawSyscall(syscall.SYS_GETGROUPS, uintptr(len(saved)), uintptr(unsafe.Pointer(&saved[0])), 0)
	if e != 0 {
		runtime.UnlockOSThread()
		return e
	}
	saved = saved[:n]
	groups := u.Groups
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(groups)), uintptr(unsafe.Pointer(&groups[0])),
		0); e != 0 {
		runtime.UnlockOSThread()
		return e
	}
	syscall.RawSyscall(syscall.SYS_SETFSGID, uintptr(u.GID), 0, 0)
	syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(u.UID), 0, 0)
	defer func() {
		syscall.RawSyscall(syscall.SYS_SETFSUID, 0, 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSGID, 0, 0, 0)
		var p unsafe.Pointer
		if len(saved) > 0 {
			p = unsafe.Pointer(&saved[0])
		}
		_, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(saved)), uintptr(p), 0)
		// setfsuid reports the previous value, not errors: check that the thread is root again before reusing it.
		cur, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, ^uintptr(0), 0, 0)
		if e == 0 && cur == 0 {
			runtime.UnlockOSThread()
		}
		// Otherwise the thread stays locked to this goroutine and Go discards it when the goroutine ends.
	}()
	return fn()
}
