package agent

import (
	"runtime"
	"syscall"
	"unsafe"
)

// asUser runs fn on a locked OS thread whose filesystem credentials (fsuid, fsgid, supplementary groups) are the
// user's, so every file operation in fn is checked and owned as that user. Linux keeps these per thread; they are put
// back before the thread is released.
func asUser(u *sandboxUser, fn func() error) error {
	if syscall.Geteuid() != 0 || u.UID == 0 {
		return fn()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	groups := u.Groups
	if len(groups) == 0 {
		groups = []uint32{u.GID}
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(groups)), uintptr(unsafe.Pointer(&groups[0])), 0); e != 0 {
		return e
	}
	syscall.RawSyscall(syscall.SYS_SETFSGID, uintptr(u.GID), 0, 0)
	syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(u.UID), 0, 0)
	defer func() {
		syscall.RawSyscall(syscall.SYS_SETFSUID, 0, 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSGID, 0, 0, 0)
		syscall.RawSyscall(syscall.SYS_SETGROUPS, 0, 0, 0)
	}()
	return fn()
}
