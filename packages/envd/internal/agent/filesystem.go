package agent

import (
	"context"
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
	"github.com/fsnotify/fsnotify"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
)

type filesystemService struct{ a *Agent }

// fsError maps an OS error on path to the Connect code a client can act on.
func fsError(err error, path string) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("path '%s' does not exist", path))
	case errors.Is(err, fs.ErrPermission):
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("permission denied: %s", path))
	case errors.Is(err, fs.ErrExist):
		return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("path '%s' already exists", path))
	case errors.Is(err, syscall.ENOTDIR):
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("a parent of '%s' is not a directory", path))
	case errors.Is(err, syscall.ENOSPC):
		return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("no space left on device: %s", path))
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	return connect.NewError(connect.CodeInternal, err)
}

var nameCache sync.Map

func lookupName(id uint32, group bool) string {
	key := fmt.Sprintf("%v:%d", group, id)
	if v, ok := nameCache.Load(key); ok {
		return v.(string)
	}
	name := strconv.FormatUint(uint64(id), 10)
	if group {
		if g, err := user.LookupGroupId(name); err == nil {
			name = g.Name
		}
	} else if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	nameCache.Store(key, name)
	return name
}

// entryInfo describes path from its lstat result.
func entryInfo(path string, info fs.FileInfo) *pb.EntryInfo {
	e := &pb.EntryInfo{
		Name:         info.Name(),
		Path:         path,
		Size:         info.Size(),
		Mode:         uint32(info.Mode().Perm()),
		Permissions:  info.Mode().String(),
		ModifiedTime: timestamppb.New(info.ModTime()),
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		e.Type = pb.FileType_FILE_TYPE_SYMLINK
		if t, err := os.Readlink(path); err == nil {
			e.SymlinkTarget = &t
		}
		// Clients mostly care what a link points at.
		if st, err := os.Stat(path); err == nil {
			if st.IsDir() {
				e.Type = pb.FileType_FILE_TYPE_DIRECTORY
			} else {
				e.Type = pb.FileType_FILE_TYPE_FILE
			}
		}
	case info.IsDir():
		e.Type = pb.FileType_FILE_TYPE_DIRECTORY
	default:
		e.Type = pb.FileType_FILE_TYPE_FILE
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		e.Owner = lookupName(st.Uid, false)
		e.Group = lookupName(st.Gid, true)
	}
	return e
}

func statEntry(path string) (*pb.EntryInfo, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	return entryInfo(path, info), nil
}

func (s *filesystemService) Stat(ctx context.Context, req *connect.Request[pb.StatRequest]) (*connect.Response[pb.StatResponse], error) {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return nil, err
	}
	path := resolvePath(u, req.Msg.GetPath())
	var e *pb.EntryInfo
	if err := asUser(u, func() (err error) { e, err = statEntry(path); return }); err != nil {
		return nil, fsError(err, path)
	}
	return connect.NewResponse(&pb.StatResponse{Entry: e}), nil
}

func (s *filesystemService) MakeDir(ctx context.Context, req *connect.Request[pb.MakeDirRequest]) (*connect.Response[pb.MakeDirResponse], error) {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetPath() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("path is required"))
	}
	path := resolvePath(u, req.Msg.GetPath())
	var e *pb.EntryInfo
	err = asUser(u, func() error {
		if st, err := os.Stat(path); err == nil {
			if st.IsDir() {
				return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("directory '%s' already exists", path))
			}
			return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("'%s' already exists and is not a directory", path))
		}
		if err := os.MkdirAll(path, 0o755); err != nil {
			return err
		}
		e, err = statEntry(path)
		return err
	})
	if err != nil {
		return nil, fsError(err, path)
	}
	return connect.NewResponse(&pb.MakeDirResponse{Entry: e}), nil
}

func (s *filesystemService) Move(ctx context.Context, req *connect.Request[pb.MoveRequest]) (*connect.Response[pb.MoveResponse], error) {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetSource() == "" || req.Msg.GetDestination() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("source and destination are required"))
	}
	src, dst := resolvePath(u, req.Msg.GetSource()), resolvePath(u, req.Msg.GetDestination())
	var e *pb.EntryInfo
	err = asUser(u, func() error {
		if _, err := os.Lstat(src); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		e, err = statEntry(dst)
		return err
	})
	if err != nil {
		return nil, fsError(err, src)
	}
	return connect.NewResponse(&pb.MoveResponse{Entry: e}), nil
}

func (s *filesystemService) ListDir(ctx context.Context, req *connect.Request[pb.ListDirRequest]) (*connect.Response[pb.ListDirResponse], error) {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return nil, err
	}
	root := resolvePath(u, req.Msg.GetPath())
	depth := int(req.Msg.GetDepth())
	if depth <= 0 {
		depth = 1
	}
	var entries []*pb.EntryInfo
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
					return nil // unreadable subdirectory: list what we can
				}
				return err
			}
			for _, de := range des {
				p := filepath.Join(dir, de.Name())
				info, err := de.Info()
				if err != nil {
					continue
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

func (s *filesystemService) Remove(ctx context.Context, req *connect.Request[pb.RemoveRequest]) (*connect.Response[pb.RemoveResponse], error) {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetPath() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("path is required"))
	}
	path := resolvePath(u, req.Msg.GetPath())
	if err := asUser(u, func() error { return os.RemoveAll(path) }); err != nil {
		return nil, fsError(err, path)
	}
	return connect.NewResponse(&pb.RemoveResponse{}), nil
}

// ---- watching ----

// dirWatch follows one directory (and, when recursive, every directory below it, including new ones).
type dirWatch struct {
	root         string
	recursive    bool
	includeEntry bool
	w            *fsnotify.Watcher
	events       chan *pb.FilesystemEvent
	done         chan struct{}
	once         sync.Once
}

func newDirWatch(u *sandboxUser, root string, recursive, includeEntry bool) (*dirWatch, error) {
	var st fs.FileInfo
	if err := asUser(u, func() (err error) { st, err = os.Stat(root); return }); err != nil {
		return nil, fsError(err, root)
	}
	if !st.IsDir() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("path '%s' is not a directory", root))
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("cannot watch: %w", err))
	}
	d := &dirWatch{root: root, recursive: recursive, includeEntry: includeEntry, w: w,
		events: make(chan *pb.FilesystemEvent, 1024), done: make(chan struct{})}
	if err := d.add(root); err != nil {
		w.Close()
		return nil, fsError(err, root)
	}
	go d.loop()
	return d, nil
}

func (d *dirWatch) add(dir string) error {
	if err := d.w.Add(dir); err != nil {
		return err
	}
	if !d.recursive {
		return nil
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, de := range des {
		if de.IsDir() {
			_ = d.add(filepath.Join(dir, de.Name()))
		}
	}
	return nil
}

func (d *dirWatch) loop() {
	defer close(d.events)
	for {
		select {
		case <-d.done:
			return
		case ev, ok := <-d.w.Events:
			if !ok {
				return
			}
			rel, err := filepath.Rel(d.root, ev.Name)
			if err != nil {
				rel = ev.Name
			}
			var t pb.EventType
			switch {
			case ev.Has(fsnotify.Create):
				t = pb.EventType_EVENT_TYPE_CREATE
				if d.recursive {
					if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
						_ = d.add(ev.Name)
					}
				}
			case ev.Has(fsnotify.Write):
				t = pb.EventType_EVENT_TYPE_WRITE
			case ev.Has(fsnotify.Remove):
				t = pb.EventType_EVENT_TYPE_REMOVE
			case ev.Has(fsnotify.Rename):
				t = pb.EventType_EVENT_TYPE_RENAME
			case ev.Has(fsnotify.Chmod):
				t = pb.EventType_EVENT_TYPE_CHMOD
			default:
				continue
			}
			fe := &pb.FilesystemEvent{Name: rel, Type: t}
			if d.includeEntry && t != pb.EventType_EVENT_TYPE_REMOVE && t != pb.EventType_EVENT_TYPE_RENAME {
				if e, err := statEntry(ev.Name); err == nil {
					fe.Entry = e
				}
			}
			select {
			case d.events <- fe:
			case <-d.done:
				return
			}
		case _, ok := <-d.w.Errors:
			if !ok {
				return
			}
		}
	}
}

func (d *dirWatch) close() {
	d.once.Do(func() {
		close(d.done)
		d.w.Close()
	})
}

func (s *filesystemService) WatchDir(ctx context.Context, req *connect.Request[pb.WatchDirRequest], out *connect.ServerStream[pb.WatchDirResponse]) error {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return err
	}
	d, err := newDirWatch(u, resolvePath(u, req.Msg.GetPath()), req.Msg.GetRecursive(), req.Msg.GetIncludeEntry())
	if err != nil {
		return err
	}
	defer d.close()
	if err := out.Send(&pb.WatchDirResponse{Event: &pb.WatchDirResponse_Start{Start: &pb.WatchDirResponse_StartEvent{}}}); err != nil {
		return err
	}
	var tick <-chan time.Time
	if ka := keepaliveInterval(req.Header()); ka > 0 {
		t := time.NewTicker(ka)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if err := out.Send(&pb.WatchDirResponse{Event: &pb.WatchDirResponse_Keepalive{Keepalive: &pb.WatchDirResponse_KeepAlive{}}}); err != nil {
				return err
			}
		case e, ok := <-d.events:
			if !ok {
				return nil
			}
			if err := out.Send(&pb.WatchDirResponse{Event: &pb.WatchDirResponse_Filesystem{Filesystem: e}}); err != nil {
				return err
			}
		}
	}
}

// watcherTable backs the polling watch API (CreateWatcher / GetWatcherEvents / RemoveWatcher).
type watcherTable struct {
	mu   sync.Mutex
	next int
	m    map[string]*polledWatcher
}

type polledWatcher struct {
	d      *dirWatch
	mu     sync.Mutex
	events []*pb.FilesystemEvent
}

func newWatcherTable() *watcherTable { return &watcherTable{m: map[string]*polledWatcher{}} }

func (s *filesystemService) CreateWatcher(ctx context.Context, req *connect.Request[pb.CreateWatcherRequest]) (*connect.Response[pb.CreateWatcherResponse], error) {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return nil, err
	}
	d, err := newDirWatch(u, resolvePath(u, req.Msg.GetPath()), req.Msg.GetRecursive(), req.Msg.GetIncludeEntry())
	if err != nil {
		return nil, err
	}
	pw := &polledWatcher{d: d}
	go func() {
		for e := range d.events {
			pw.mu.Lock()
			pw.events = append(pw.events, e)
			pw.mu.Unlock()
		}
	}()
	t := s.a.watchers
	t.mu.Lock()
	t.next++
	id := fmt.Sprintf("w%d-%d", t.next, time.Now().UnixNano()%1e6)
	t.m[id] = pw
	t.mu.Unlock()
	return connect.NewResponse(&pb.CreateWatcherResponse{WatcherId: id}), nil
}

func (s *filesystemService) watcher(id string) (*polledWatcher, error) {
	t := s.a.watchers
	t.mu.Lock()
	defer t.mu.Unlock()
	pw, ok := t.m[id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("watcher '%s' not found", id))
	}
	return pw, nil
}

func (s *filesystemService) GetWatcherEvents(ctx context.Context, req *connect.Request[pb.GetWatcherEventsRequest]) (*connect.Response[pb.GetWatcherEventsResponse], error) {
	pw, err := s.watcher(req.Msg.GetWatcherId())
	if err != nil {
		return nil, err
	}
	pw.mu.Lock()
	evs := pw.events
	pw.events = nil
	pw.mu.Unlock()
	return connect.NewResponse(&pb.GetWatcherEventsResponse{Events: evs}), nil
}

func (s *filesystemService) RemoveWatcher(ctx context.Context, req *connect.Request[pb.RemoveWatcherRequest]) (*connect.Response[pb.RemoveWatcherResponse], error) {
	pw, err := s.watcher(req.Msg.GetWatcherId())
	if err != nil {
		return nil, err
	}
	pw.d.close()
	s.a.watchers.mu.Lock()
	delete(s.a.watchers.m, req.Msg.GetWatcherId())
	s.a.watchers.mu.Unlock()
	return connect.NewResponse(&pb.RemoveWatcherResponse{}), nil
}
