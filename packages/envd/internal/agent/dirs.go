package agent

// Missing directories, as E2B's envd makes them: root creates them and hands them to the user, so writing
// /0/file.txt as `user` works although `user` may not write to /. Unlike E2B's envd (which does everything as root),
// only where the user could already look: the deepest existing directory must be searchable by the user (no new
// directories inside /root for `user`), and each new directory is made relative to its parent's descriptor without
// following links, so swapping a path component for a symlink meanwhile cannot redirect root elsewhere.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// ensureDirs makes dir and its missing parents, owned by the user. It must not run inside asUser.
func ensureDirs(u *sandboxUser, dir string) error {
	dir = filepath.Clean(dir)
	if syscall.Geteuid() != 0 || u.UID == 0 {
		return asUser(u, func() error { return os.MkdirAll(dir, 0o755) })
	}
	// The deepest existing ancestor, as the user sees the path (following links as the later write will).
	var missing []string
	existing := dir
	err := asUser(u, func() error {
		for {
			st, err := os.Stat(existing)
			if err == nil {
				if !st.IsDir() {
					return &fs.PathError{Op: "mkdir", Path: existing, Err: syscall.ENOTDIR}
				}
				return nil
			}
			if !errors.Is(err, fs.ErrNotExist) || existing == "/" {
				return err
			}
			missing = append(missing, filepath.Base(existing))
			existing = filepath.Dir(existing)
		}
	})
	if err != nil || len(missing) == 0 {
		return err
	}
	// Opening "<existing>/." as the user needs search permission on it and on every directory above.
	var fd int
	if err := asUser(u, func() (err error) {
		fd, err = unix.Open(filepath.Join(existing, "."), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &fs.PathError{Op: "open", Path: existing, Err: err}
		}
		return nil
	}); err != nil {
		return err
	}
	defer func() { unix.Close(fd) }()
	for i := len(missing) - 1; i >= 0; i-- {
		name := missing[i]
		created := filepath.Join(existing, name)
		err := unix.Mkdirat(fd, name, 0o755)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return &fs.PathError{Op: "mkdir", Path: created, Err: err}
		}
		made := err == nil // one someone else made meanwhile stays theirs
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &fs.PathError{Op: "mkdir", Path: created, Err: err}
		}
		unix.Close(fd)
		fd = next
		// Through the new descriptor: what is chowned is the directory just opened, whatever the name points at now.
		if !made {
			existing = created
			continue
		}
		if err := unix.Fchownat(fd, "", int(u.UID), int(u.GID), unix.AT_EMPTY_PATH); err != nil {
			return &fs.PathError{Op: "chown", Path: created, Err: err}
		}
		existing = created
	}
	return nil
}
