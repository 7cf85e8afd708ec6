package tensorbox

// Metadata operations on the sandbox's filesystem (list, stat, mkdir, move, remove) over the agent's Connect
// filesystem service, and EntryInfo, the SDK's view of its entries.

import (
	"context"
	"errors"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/filesystem"
)

// File types of EntryInfo.Type.
const (
	FileTypeFile    = "file"
	FileTypeDir     = "dir"
	FileTypeSymlink = "symlink"
)

// EntryInfo describes a file, directory or symlink.
type EntryInfo struct {
	Name string
	Path string
	// Type is FileTypeFile, FileTypeDir or FileTypeSymlink.
	Type string
	Size int64
	// Mode holds the permission bits (and file type bits) as the agent reports them.
	Mode uint32
	// Permissions is the ls-style string, e.g. "-rw-r--r--".
	Permissions   string
	Owner         string
	Group         string
	ModifiedTime  time.Time
	SymlinkTarget string
}

// ListFilesOptions configures Files.List.
type ListFilesOptions struct {
	FilesystemOptions
	// Depth lists this many levels below path (default 1).
	Depth uint32
}

func toEntry(e *filesystem.EntryInfo) EntryInfo {
	info := EntryInfo{
		Name: e.GetName(), Path: e.GetPath(), Type: FileTypeFile, Size: e.GetSize(), Mode: e.GetMode(),
		Permissions: e.GetPermissions(), Owner: e.GetOwner(), Group: e.GetGroup(), SymlinkTarget: e.GetSymlinkTarget(),
	}
	switch e.GetType() {
	case filesystem.FileType_FILE_TYPE_DIRECTORY:
		info.Type = FileTypeDir
	case filesystem.FileType_FILE_TYPE_SYMLINK:
		info.Type = FileTypeSymlink
	}
	if t := e.GetModifiedTime(); t != nil {
		info.ModifiedTime = t.AsTime()
	}
	return info
}

// List returns the entries of a directory.
func (f *Files) List(ctx context.Context, path string, opts *ListFilesOptions) ([]EntryInfo, error) {
	if opts == nil {
		opts = &ListFilesOptions{}
	}
	depth := opts.Depth
	if depth == 0 {
		depth = 1
	}
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	res, err := f.t.filesystem.ListDir(
		ctx,
		rpcRequest(f.t, &filesystem.ListDirRequest{Path: path, Depth: depth}, opts.User),
	)
	if err != nil {
		return nil, fromConnect(err, "list "+path)
	}
	out := make([]EntryInfo, 0, len(res.Msg.GetEntries()))
	for _, e := range res.Msg.GetEntries() {
		out = append(out, toEntry(e))
	}
	return out, nil
}

// GetInfo returns the info of one file or directory; ErrNotFound when it does not exist.
func (f *Files) GetInfo(ctx context.Context, path string, opts *FilesystemOptions) (*EntryInfo, error) {
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	res, err := f.t.filesystem.Stat(ctx, rpcRequest(f.t, &filesystem.StatRequest{Path: path}, opts.user()))
	if err != nil {
		return nil, fromConnect(err, "stat "+path)
	}
	info := toEntry(res.Msg.GetEntry())
	return &info, nil
}

// Exists reports whether a path exists. Errors other than "not found" (the sandbox is gone, the network failed)
// are returned rather than read as "no".
func (f *Files) Exists(ctx context.Context, path string, opts *FilesystemOptions) (bool, error) {
	_, err := f.GetInfo(ctx, path, opts)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// MakeDir creates a directory and its parents; false when it already existed.
func (f *Files) MakeDir(ctx context.Context, path string, opts *FilesystemOptions) (bool, error) {
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	_, err := f.t.filesystem.MakeDir(ctx, rpcRequest(f.t, &filesystem.MakeDirRequest{Path: path}, opts.user()))
	err = fromConnect(err, "make directory "+path)
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// Rename renames or moves a file or directory and returns its new info.
func (f *Files) Rename(ctx context.Context, oldPath, newPath string, opts *FilesystemOptions) (*EntryInfo, error) {
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	res, err := f.t.filesystem.Move(
		ctx,
		rpcRequest(f.t, &filesystem.MoveRequest{Source: oldPath, Destination: newPath}, opts.user()),
	)
	if err != nil {
		return nil, fromConnect(err, "rename "+oldPath)
	}
	info := toEntry(res.Msg.GetEntry())
	return &info, nil
}

// Remove deletes a file, or a directory with its contents.
func (f *Files) Remove(ctx context.Context, path string, opts *FilesystemOptions) error {
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	_, err := f.t.filesystem.Remove(ctx, rpcRequest(f.t, &filesystem.RemoveRequest{Path: path}, opts.user()))
	return fromConnect(err, "remove "+path)
}
