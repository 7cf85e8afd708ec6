package agent

// EntryInfo of a path and the mapping of file errors to Connect codes.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
)

// fsError maps an OS error on path to the Connect code a client can act on; Connect errors pass through.
func fsError(err error, path string) error {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("path '%s' does not exist", path))
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("permission denied: '%s'", path))
	case errors.Is(err, fs.ErrExist):
		return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("path '%s' already exists", path))
	case errors.Is(err, syscall.ENOTDIR):
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("a parent of '%s' is not a directory", path))
	case errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EINVAL),
		errors.Is(err, syscall.EXDEV), errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP):
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("'%s': %s", path, errText(err)))
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("no space left on device: '%s'", path))
	}
	return connect.NewError(connect.CodeInternal, err)
}

// idNames caches uid/gid → name for a few seconds (listing a big directory would otherwise re-read /etc/passwd per
// entry; a short life keeps users added meanwhile visible), and no longer than /etc/passwd or /etc/group is unchanged
// (a uid deleted and given to a new user must not keep the old name).
var idNames = struct {
	sync.Mutex
	m map[string]idName
}{m: map[string]idName{}}

type idName struct {
	name    string
	at      time.Time
	dbMtime time.Time
}

func nameOf(id uint32, group bool) string {
	num := strconv.FormatUint(uint64(id), 10)
	key, db := num, "/etc/passwd"
	if group {
		key, db = "g"+num, "/etc/group"
	}
	var dbMtime time.Time
	if st, err := os.Stat(db); err == nil {
		dbMtime = st.ModTime()
	}
	idNames.Lock()
	defer idNames.Unlock()
	if c, ok := idNames.m[key]; ok && time.Since(c.at) < 5*time.Second && c.dbMtime.Equal(dbMtime) {
		return c.name
	}
	name := num
	if group {
		if g, err := user.LookupGroupId(num); err == nil {
			name = g.Name
		}
	} else if u, err := user.LookupId(num); err == nil {
		name = u.Username
	}
	idNames.m[key] = idName{name: name, at: time.Now(), dbMtime: dbMtime}
	return name
}

// entryInfo describes path from its lstat result, with its metadata (metadata.go). Like E2B's envd, a symlink reports
// the type and permission bits of what it points at, and its resolved target; a dangling link is FILE_TYPE_SYMLINK.
func entryInfo(path string, info fs.FileInfo) *pb.EntryInfo {
	e := &pb.EntryInfo{
		Name:         info.Name(),
		Type:         fileType(info.Mode()),
		Path:         path,
		Size:         info.Size(),
		Mode:         uint32(info.Mode().Perm()),
		Permissions:  info.Mode().String(),
		ModifiedTime: timestamppb.New(info.ModTime()),
		Metadata:     readMetadata(path),
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			target, _ = os.Readlink(path)
		}
		e.SymlinkTarget = &target
		if st, err := os.Stat(path); err == nil {
			e.Type = fileType(st.Mode())
			e.Mode = uint32(st.Mode().Perm())
		}
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		e.Owner = nameOf(st.Uid, false)
		e.Group = nameOf(st.Gid, true)
	}
	return e
}

func fileType(m fs.FileMode) pb.FileType {
	switch {
	case m.IsRegular():
		return pb.FileType_FILE_TYPE_FILE
	case m.IsDir():
		return pb.FileType_FILE_TYPE_DIRECTORY
	case m&fs.ModeSymlink != 0:
		return pb.FileType_FILE_TYPE_SYMLINK
	}
	return pb.FileType_FILE_TYPE_UNSPECIFIED // devices, sockets, FIFOs
}

func statEntry(path string) (*pb.EntryInfo, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	return entryInfo(path, info), nil
}
