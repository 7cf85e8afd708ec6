package agent

// Directory watching: the WatchDir stream and the polling variant (CreateWatcher / GetWatcherEvents / RemoveWatcher).
// Event names are relative to the watched directory. A recursive watch also follows directories created later; what
// such a directory already holds when its watch is added is reported as CREATE events (`mkdir -p a/b && touch a/b/f`
// usually finishes before the watch on a/b exists).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
)

// maxPolledEvents bounds a polling watcher's backlog; older events are dropped past it.
const maxPolledEvents = 10_000

// polledWatcherIdle: a polling watcher nobody asked for events for this long is removed (each holds an inotify
// instance, and there are only 128 per user by default).
const polledWatcherIdle = 10 * time.Minute

type dirWatch struct {
	user         *sandboxUser
	root         string
	recursive    bool
	includeEntry bool
	w            *fsnotify.Watcher
	events       chan *pb.FilesystemEvent
	done         chan struct{}
	once         sync.Once
	quiesced     atomic.Bool // ended by /quiesce (the sandbox is being checkpointed)
}

// watchOptions are the WatchDir / CreateWatcher request's flags.
type watchOptions struct {
	recursive, includeEntry, allowNetworkMounts bool
}

// newDirWatch starts watching root as the user; NotFound if it is missing, InvalidArgument if it is not a directory
// or (unless allowed) on a network filesystem.
func newDirWatch(u *sandboxUser, root string, o watchOptions) (*dirWatch, error) {
	recursive, includeEntry := o.recursive, o.includeEntry
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("cannot watch: %w", err))
	}
	d := &dirWatch{user: u, root: root, recursive: recursive, includeEntry: includeEntry, w: w,
		events: make(chan *pb.FilesystemEvent, 1024), done: make(chan struct{})}
	err = asUser(u, func() error {
		st, err := os.Stat(root)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("path '%s' is not a directory", root))
		}
		if !o.allowNetworkMounts && onNetworkMount(root) {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("cannot watch path on network filesystem: %s", root))
		}
		return d.add(root, nil)
	})
	if err != nil {
		w.Close()
		return nil, fsError(err, root)
	}
	go d.loop()
	return d, nil
}

// add watches dir (and, when recursive, the directories below it). With found set, entries already present are
// passed to it. It must run as the user.
func (d *dirWatch) add(dir string, found func(path string)) error {
	if err := d.w.Add(dir); err != nil {
		return err
	}
	if !d.recursive && found == nil {
		return nil
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil // unreadable: watched, not descended into
	}
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		if found != nil {
			found(p)
		}
		if d.recursive && de.IsDir() {
			_ = d.add(p, found)
		}
	}
	return nil
}

// onNetworkMount: is path on NFS, CIFS/SMB or FUSE, where inotify misses what other machines change.
func onNetworkMount(path string) bool {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.NFS_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC, unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.FUSE_SUPER_MAGIC:
		return true
	}
	return false
}

func (d *dirWatch) event(path string, t pb.EventType) *pb.FilesystemEvent {
	rel, err := filepath.Rel(d.root, path)
	if err != nil {
		rel = path
	}
	fe := &pb.FilesystemEvent{Name: rel, Type: t}
	if d.includeEntry && t != pb.EventType_EVENT_TYPE_REMOVE && t != pb.EventType_EVENT_TYPE_RENAME {
		_ = asUser(d.user, func() error {
			e, err := statEntry(path)
			fe.Entry = e
			return err
		})
	}
	return fe
}

func (d *dirWatch) emit(fe *pb.FilesystemEvent) bool {
	select {
	case d.events <- fe:
		return true
	case <-d.done:
		return false
	}
}

// eventTypes lists what one inotify event stands for, in E2B envd's order (one event can carry several).
func eventTypes(op fsnotify.Op) []pb.EventType {
	var ts []pb.EventType
	for _, m := range []struct {
		op fsnotify.Op
		t  pb.EventType
	}{
		{fsnotify.Create, pb.EventType_EVENT_TYPE_CREATE},
		{fsnotify.Rename, pb.EventType_EVENT_TYPE_RENAME},
		{fsnotify.Chmod, pb.EventType_EVENT_TYPE_CHMOD},
		{fsnotify.Write, pb.EventType_EVENT_TYPE_WRITE},
		{fsnotify.Remove, pb.EventType_EVENT_TYPE_REMOVE},
	} {
		if op.Has(m.op) {
			ts = append(ts, m.t)
		}
	}
	return ts
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
			ts := eventTypes(ev.Op)
			for _, t := range ts {
				if !d.emit(d.event(ev.Name, t)) {
					return
				}
			}
			if len(ts) > 0 && ts[0] == pb.EventType_EVENT_TYPE_CREATE && d.recursive {
				var found []string
				_ = asUser(d.user, func() error {
					if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
						_ = d.add(ev.Name, func(p string) { found = append(found, p) })
					}
					return nil
				})
				for _, p := range found {
					if !d.emit(d.event(p, pb.EventType_EVENT_TYPE_CREATE)) {
						return
					}
				}
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

func (s *filesystemService) WatchDir(
	ctx context.Context,
	req *connect.Request[pb.WatchDirRequest],
	out *connect.ServerStream[pb.WatchDirResponse],
) error {
	u, path, err := s.target(req, req.Msg.GetPath())
	if err != nil {
		return err
	}
	d, err := newDirWatch(u, path, watchOptions{req.Msg.GetRecursive(), req.Msg.GetIncludeEntry(),
		req.Msg.GetAllowNetworkMounts()})
	if err != nil {
		return err
	}
	defer d.close()
	s.a.streamsMu.Lock()
	s.a.streams[d] = struct{}{}
	s.a.streamsMu.Unlock()
	defer func() {
		s.a.streamsMu.Lock()
		delete(s.a.streams, d)
		s.a.streamsMu.Unlock()
	}()
	if err := out.Send(&pb.WatchDirResponse{
		Event: &pb.WatchDirResponse_Start{Start: &pb.WatchDirResponse_StartEvent{}},
	}); err != nil {
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
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
			}
			return nil
		case <-tick:
			if err := out.Send(&pb.WatchDirResponse{
				Event: &pb.WatchDirResponse_Keepalive{Keepalive: &pb.WatchDirResponse_KeepAlive{}},
			}); err != nil {
				return err
			}
		case e, ok := <-d.events:
			if !ok {
				if d.quiesced.Load() {
					return connect.NewError(
						connect.CodeUnavailable,
						errors.New("the sandbox was paused; watch again after it resumes"),
					)
				}
				return connect.NewError(connect.CodeInternal, errors.New("the watch ended"))
			}
			if err := out.Send(&pb.WatchDirResponse{Event: &pb.WatchDirResponse_Filesystem{Filesystem: e}}); err != nil {
				return err
			}
		}
	}
}

// watcherTable backs the polling watch API.
type watcherTable struct {
	mu   sync.Mutex
	next int
	m    map[string]*polledWatcher
}

type polledWatcher struct {
	d        *dirWatch
	mu       sync.Mutex
	events   []*pb.FilesystemEvent
	lastPoll time.Time
}

func newWatcherTable() *watcherTable { return &watcherTable{m: map[string]*polledWatcher{}} }

func (s *filesystemService) CreateWatcher(
	ctx context.Context,
	req *connect.Request[pb.CreateWatcherRequest],
) (*connect.Response[pb.CreateWatcherResponse], error) {
	u, path, err := s.target(req, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	d, err := newDirWatch(u, path, watchOptions{req.Msg.GetRecursive(), req.Msg.GetIncludeEntry(),
		req.Msg.GetAllowNetworkMounts()})
	if err != nil {
		return nil, err
	}
	pw := &polledWatcher{d: d, lastPoll: time.Now()}
	go func() {
		for e := range d.events {
			pw.mu.Lock()
			if len(pw.events) >= maxPolledEvents {
				pw.events = pw.events[1:]
			}
			pw.events = append(pw.events, e)
			pw.mu.Unlock()
		}
	}()
	t := s.a.watchers
	t.mu.Lock()
	t.sweep()
	t.next++
	id := fmt.Sprintf("w%d-%x", t.next, time.Now().UnixNano()&0xffffff)
	t.m[id] = pw
	t.mu.Unlock()
	return connect.NewResponse(&pb.CreateWatcherResponse{WatcherId: id}), nil
}

// sweep removes idle polling watchers; t.mu is held.
func (t *watcherTable) sweep() {
	for id, pw := range t.m {
		pw.mu.Lock()
		idle := time.Since(pw.lastPoll) > polledWatcherIdle
		pw.mu.Unlock()
		if idle {
			pw.d.close()
			delete(t.m, id)
		}
	}
}

func (t *watcherTable) get(id string) (*polledWatcher, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pw, ok := t.m[id]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("watcher '%s' not found", id))
	}
	return pw, nil
}

func (s *filesystemService) GetWatcherEvents(
	ctx context.Context,
	req *connect.Request[pb.GetWatcherEventsRequest],
) (*connect.Response[pb.GetWatcherEventsResponse], error) {
	pw, err := s.a.watchers.get(req.Msg.GetWatcherId())
	if err != nil {
		return nil, err
	}
	pw.mu.Lock()
	evs := pw.events
	pw.events = nil
	pw.lastPoll = time.Now()
	pw.mu.Unlock()
	return connect.NewResponse(&pb.GetWatcherEventsResponse{Events: evs}), nil
}

func (s *filesystemService) RemoveWatcher(
	ctx context.Context,
	req *connect.Request[pb.RemoveWatcherRequest],
) (*connect.Response[pb.RemoveWatcherResponse], error) {
	t := s.a.watchers
	pw, err := t.get(req.Msg.GetWatcherId())
	if err != nil {
		return nil, err
	}
	pw.d.close()
	t.mu.Lock()
	delete(t.m, req.Msg.GetWatcherId())
	t.mu.Unlock()
	return connect.NewResponse(&pb.RemoveWatcherResponse{}), nil
}

// handleQuiesce ends every watch (streams and polling watchers) so the sandbox can be checkpointed: CRIU cannot save
// inotify watches on an overlay filesystem, and the watch streams' connections would not survive a resume anyway.
// Internal (the control plane calls it before a pause; the ingress refuses it from outside), token-checked like /init.
func (a *Agent) handleQuiesce(w http.ResponseWriter, r *http.Request) {
	if !a.tokenOK(r) {
		writeError(w, http.StatusUnauthorized, "missing or invalid X-Access-Token")
		return
	}
	a.streamsMu.Lock()
	for d := range a.streams {
		d.quiesced.Store(true)
		d.close()
	}
	a.streamsMu.Unlock()
	t := a.watchers
	t.mu.Lock()
	for id, pw := range t.m {
		pw.d.close()
		delete(t.m, id)
	}
	t.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
