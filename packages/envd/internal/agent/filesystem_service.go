package agent

// The filesystem.Filesystem Connect service (watching is in watch.go). Every operation runs with the request user's
// filesystem credentials (asUser), so the kernel decides what the user may see and change, and what is created is
// owned by the user.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"connectrpc.com/connect"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
)

type filesystemService struct{ a *Agent }

// target resolves the request's user and path.
func (s *filesystemService) target(h interface{ Header() http.Header }, path string) (*sandboxUser, string, error) {
	u, err := s.a.userFromHeader(h.Header())
	if err != nil {
		return nil, "", err
	}
	return u, s.a.resolvePath(u, path), nil
}

func (s *filesystemService) Stat(
	ctx context.Context,
	req *connect.Request[pb.StatRequest],
) (*connect.Response[pb.StatResponse], error) {
	u, path, err := s.target(req, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	var e *pb.EntryInfo
	if err := asUser(u, func() (err error) { e, err = statEntry(path); return err }); err != nil {
		return nil, fsError(err, path)
	}
	return connect.NewResponse(&pb.StatResponse{Entry: e}), nil
}

func (s *filesystemService) MakeDir(
	ctx context.Context,
	req *connect.Request[pb.MakeDirRequest],
) (*connect.Response[pb.MakeDirResponse], error) {
	if req.Msg.GetPath() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("path is required"))
	}
	u, path, err := s.target(req, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	err = asUser(u, func() error {
		if st, err := os.Stat(path); err == nil {
			if st.IsDir() {
				return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("directory '%s' already exists", path))
			}
			return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("'%s' already exists and is not a directory", path))
		}
		return nil
	})
	if err == nil {
		err = ensureDirs(u, path)
	}
	var e *pb.EntryInfo
	if err == nil {
		err = asUser(u, func() (err error) { e, err = statEntry(path); return err })
	}
	if err != nil {
		return nil, fsError(err, path)
	}
	return connect.NewResponse(&pb.MakeDirResponse{Entry: e}), nil
}

// Move renames source to destination, creating the destination's parents; an existing destination file is replaced.
func (s *filesystemService) Move(
	ctx context.Context,
	req *connect.Request[pb.MoveRequest],
) (*connect.Response[pb.MoveResponse], error) {
	if req.Msg.GetSource() == "" || req.Msg.GetDestination() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("source and destination are required"))
	}
	u, src, err := s.target(req, req.Msg.GetSource())
	if err != nil {
		return nil, err
	}
	dst := s.a.resolvePath(u, req.Msg.GetDestination())
	if err := asUser(u, func() error { _, err := os.Lstat(src); return err }); err != nil {
		return nil, fsError(err, src)
	}
	if err := ensureDirs(u, filepath.Dir(dst)); err != nil {
		return nil, fsError(err, dst)
	}
	var e *pb.EntryInfo
	err = asUser(u, func() error {
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		var err error
		e, err = statEntry(dst)
		return err
	})
	if err != nil {
		return nil, fsError(err, dst)
	}
	return connect.NewResponse(&pb.MoveResponse{Entry: e}), nil
}

// ListDir lists path's entries down to depth levels (default 1: the direct children). Symlinked directories are
// listed but not descended into; subdirectories the user may not read are skipped.
func (s *filesystemService) ListDir(
	ctx context.Context,
	req *connect.Request[pb.ListDirRequest],
) (*connect.Response[pb.ListDirResponse], error) {
	u, root, err := s.target(req, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	depth := int(req.Msg.GetDepth())
	if depth <= 0 {
		depth = 1
	}
	entries := []*pb.EntryInfo{}
	err = asUser(u, func() error {
		st, err := os.Stat(root)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("path '%s' is not a directory", root))
		}
		var walk func(dir string, level int) error
		walk = func(dir string, level int) error {
			des, err := os.ReadDir(dir)
			if err != nil {
				if dir != root && (errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist)) {
					return nil
				}
				return err
			}
			for _, de := range des {
				if err := ctx.Err(); err != nil {
					return connect.NewError(connect.CodeDeadlineExceeded, err)
				}
				p := filepath.Join(dir, de.Name())
				info, err := de.Info()
				if err != nil {
					continue // removed meanwhile
				}
				entries = append(entries, entryInfo(p, info))
				if de.IsDir() && level < depth {
					if err := walk(p, level+1); err != nil {
						return err
					}
				}
			}
			return nil
		}
		return walk(root, 1)
	})
	if err != nil {
		return nil, fsError(err, root)
	}
	return connect.NewResponse(&pb.ListDirResponse{Entries: entries}), nil
}

// Remove deletes a file or a whole directory tree; like E2B's envd, removing what is not there succeeds.
func (s *filesystemService) Remove(
	ctx context.Context,
	req *connect.Request[pb.RemoveRequest],
) (*connect.Response[pb.RemoveResponse], error) {
	if req.Msg.GetPath() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("path is required"))
	}
	u, path, err := s.target(req, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	if err := asUser(u, func() error { return os.RemoveAll(path) }); err != nil {
		return nil, fsError(err, path)
	}
	return connect.NewResponse(&pb.RemoveResponse{}), nil
}
