package tensorbox

// Watching a directory: the agent's WatchDir server stream, delivered to a callback from one goroutine until Stop.

import (
	"context"
	"strings"
	"sync"

	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/filesystem"
)

// WatchEvent is one change in a watched directory.
type WatchEvent struct {
	// Type is "create", "write", "remove", "rename" or "chmod".
	Type string
	// Name is the path relative to the watched directory.
	Name string
	// Path is the absolute path (the watched directory joined with Name).
	Path string
}

// WatchOptions configures WatchDir.
type WatchOptions struct {
	FilesystemOptions
	// Recursive watches subdirectories too.
	Recursive bool
	// OnExit is called once when the watch ends: with nil after Stop, with the error otherwise.
	OnExit func(error)
}

// WatchHandle is a running directory watch.
type WatchHandle struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Stop ends the watch. It does not wait (so it may be called from the callback); Done tells when the callback
// will not be called again.
func (w *WatchHandle) Stop() {
	w.once.Do(w.cancel)
}

// Done is closed once the watch has ended and its callbacks have returned.
func (w *WatchHandle) Done() <-chan struct{} { return w.done }

var watchEventTypes = map[filesystem.EventType]string{
	filesystem.EventType_EVENT_TYPE_CREATE: "create",
	filesystem.EventType_EVENT_TYPE_WRITE:  "write",
	filesystem.EventType_EVENT_TYPE_REMOVE: "remove",
	filesystem.EventType_EVENT_TYPE_RENAME: "rename",
	filesystem.EventType_EVENT_TYPE_CHMOD:  "chmod",
}

// WatchDir watches a directory and calls onEvent for each change; it returns once the watch is in place, so changes
// made after it returns are reported. The watch outlives ctx; end it with Stop.
//
//	w, err := sbx.Files.WatchDir(ctx, "/home/user", func(ev tensorbox.WatchEvent) { fmt.Println(ev.Type, ev.Path) }, nil)
//	defer w.Stop()
func (f *Files) WatchDir(
	ctx context.Context,
	path string,
	onEvent func(WatchEvent),
	opts *WatchOptions,
) (*WatchHandle, error) {
	if opts == nil {
		opts = &WatchOptions{}
	}
	streamCtx, cancel := detached(ctx, 0)
	req := streamRequest(f.t, &filesystem.WatchDirRequest{Path: path, Recursive: opts.Recursive}, opts.User)

	type opened struct{ err error }
	started := make(chan opened, 1)
	var stream interface {
		Receive() bool
		Msg() *filesystem.WatchDirResponse
		Err() error
		Close() error
	}
	go func() {
		s, err := f.t.filesystem.WatchDir(streamCtx, req)
		if err != nil {
			started <- opened{err}
			return
		}
		for s.Receive() {
			if s.Msg().GetStart() != nil {
				stream = s
				started <- opened{}
				return
			}
		}
		err = s.Err()
		if err == nil {
			err = &SandboxError{Kind: KindInternal, Message: "the agent did not start the watch"}
		}
		s.Close()
		started <- opened{err}
	}()
	select {
	case r := <-started:
		if r.err != nil {
			cancel()
			return nil, fromConnect(r.err, "watch "+path)
		}
	case <-ctx.Done():
		cancel()
		return nil, fromTransport(ctx.Err(), "watch "+path)
	}

	w := &WatchHandle{cancel: cancel, done: make(chan struct{})}
	base := strings.TrimRight(path, "/")
	go func() {
		defer close(w.done)
		defer stream.Close()
		for stream.Receive() {
			ev := stream.Msg().GetFilesystem()
			if ev == nil {
				continue // start or keepalive
			}
			typ, ok := watchEventTypes[ev.GetType()]
			if !ok {
				typ = "write"
			}
			onEvent(WatchEvent{Type: typ, Name: ev.GetName(), Path: base + "/" + ev.GetName()})
		}
		if opts.OnExit != nil {
			if streamCtx.Err() != nil {
				opts.OnExit(nil)
			} else {
				opts.OnExit(fromConnect(stream.Err(), "watch "+path))
			}
		}
	}()
	return w, nil
}
