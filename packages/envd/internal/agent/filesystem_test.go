package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
)

func TestStatMakeDirMoveRemove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	os.WriteFile(file, []byte("12345"), 0o640)

	st, err := e.fs.Stat(ctx, connect.NewRequest(&pb.StatRequest{Path: file}))
	if err != nil {
		t.Fatal(err)
	}
	en := st.Msg.GetEntry()
	if en.GetName() != "f.txt" || en.GetType() != pb.FileType_FILE_TYPE_FILE || en.GetPath() != file ||
		en.GetSize() != 5 ||
		en.GetMode() != 0o640 || en.GetPermissions() != "-rw-r-----" || en.GetOwner() != defaultUser(t) ||
		en.GetModifiedTime() == nil {
		t.Fatalf("stat: %v", en)
	}
	_, err = e.fs.Stat(ctx, connect.NewRequest(&pb.StatRequest{Path: dir + "/missing"}))
	wantCode(t, err, connect.CodeNotFound)

	os.Symlink(file, dir+"/link")
	st, _ = e.fs.Stat(ctx, connect.NewRequest(&pb.StatRequest{Path: dir + "/link"}))
	if en := st.Msg.GetEntry(); en.GetType() != pb.FileType_FILE_TYPE_FILE || en.GetSymlinkTarget() != file {
		t.Fatalf("symlink: %v", en)
	}
	os.Symlink(dir+"/nowhere", dir+"/dangling")
	st, _ = e.fs.Stat(ctx, connect.NewRequest(&pb.StatRequest{Path: dir + "/dangling"}))
	if en := st.Msg.GetEntry(); en.GetType() != pb.FileType_FILE_TYPE_SYMLINK {
		t.Fatalf("dangling symlink: %v", en)
	}

	sub := filepath.Join(dir, "a", "b")
	md, err := e.fs.MakeDir(ctx, connect.NewRequest(&pb.MakeDirRequest{Path: sub}))
	if err != nil || md.Msg.GetEntry().GetType() != pb.FileType_FILE_TYPE_DIRECTORY ||
		md.Msg.GetEntry().GetPermissions() != "drwxr-xr-x" {
		t.Fatalf("makedir: %v %v", md, err)
	}
	_, err = e.fs.MakeDir(ctx, connect.NewRequest(&pb.MakeDirRequest{Path: sub}))
	wantCode(t, err, connect.CodeAlreadyExists)

	dst := filepath.Join(dir, "moved", "g.txt")
	mv, err := e.fs.Move(ctx, connect.NewRequest(&pb.MoveRequest{Source: file, Destination: dst}))
	if err != nil || mv.Msg.GetEntry().GetName() != "g.txt" || mv.Msg.GetEntry().GetPath() != dst {
		t.Fatalf("move: %v %v", mv, err)
	}
	_, err = e.fs.Move(ctx, connect.NewRequest(&pb.MoveRequest{Source: file, Destination: dst}))
	wantCode(t, err, connect.CodeNotFound)

	if _, err := e.fs.Remove(ctx, connect.NewRequest(&pb.RemoveRequest{Path: filepath.Join(dir, "a")})); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Fatal("remove is not recursive")
	}
	_, err = e.fs.Remove(ctx, connect.NewRequest(&pb.RemoveRequest{Path: ""}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func names(entries []*pb.EntryInfo, root string) []string {
	var out []string
	for _, e := range entries {
		rel, _ := filepath.Rel(root, e.GetPath())
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

func TestListDir(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(dir+"/a/b/c", 0o755)
	os.WriteFile(dir+"/top.txt", nil, 0o644)
	os.WriteFile(dir+"/a/mid.txt", nil, 0o644)
	os.WriteFile(dir+"/a/b/deep.txt", nil, 0o644)

	for depth, want := range map[uint32][]string{
		0: {"a", "top.txt"},
		1: {"a", "top.txt"},
		2: {"a", "a/b", "a/mid.txt", "top.txt"},
		3: {"a", "a/b", "a/b/c", "a/b/deep.txt", "a/mid.txt", "top.txt"},
	} {
		res, err := e.fs.ListDir(ctx, connect.NewRequest(&pb.ListDirRequest{Path: dir, Depth: depth}))
		if err != nil {
			t.Fatal(err)
		}
		if got := names(res.Msg.GetEntries(), dir); !slices.Equal(got, want) {
			t.Errorf("depth %d: %v, want %v", depth, got, want)
		}
	}
	res, _ := e.fs.ListDir(ctx, connect.NewRequest(&pb.ListDirRequest{Path: dir}))
	for _, en := range res.Msg.GetEntries() {
		if en.GetName() == "a" && en.GetType() != pb.FileType_FILE_TYPE_DIRECTORY {
			t.Errorf("a: %v", en)
		}
	}
	_, err := e.fs.ListDir(ctx, connect.NewRequest(&pb.ListDirRequest{Path: dir + "/top.txt"}))
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = e.fs.ListDir(ctx, connect.NewRequest(&pb.ListDirRequest{Path: dir + "/missing"}))
	wantCode(t, err, connect.CodeNotFound)
}

// watchEvents collects filesystem events from a WatchDir stream until want are all seen (or times out).
func watchEvents(
	t *testing.T,
	s *connect.ServerStreamForClient[pb.WatchDirResponse],
	want map[string]pb.EventType,
) []*pb.FilesystemEvent {
	t.Helper()
	var got []*pb.FilesystemEvent
	seen := map[string]bool{}
	timer := time.AfterFunc(10*time.Second, func() { s.Close() })
	defer timer.Stop()
	for len(seen) < len(want) && s.Receive() {
		ev := s.Msg().GetFilesystem()
		if ev == nil {
			continue
		}
		got = append(got, ev)
		for name, typ := range want {
			if ev.GetName() == name && ev.GetType() == typ {
				seen[name+typ.String()] = true
			}
		}
	}
	if len(seen) < len(want) {
		t.Fatalf("want %v, got %v (%v)", want, got, s.Err())
	}
	return got
}

func startWatch(t *testing.T, e *env, req *pb.WatchDirRequest) *connect.ServerStreamForClient[pb.WatchDirResponse] {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := e.fs.WatchDir(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Receive() || s.Msg().GetStart() == nil {
		t.Fatalf("no start event: %v", s.Err())
	}
	return s
}

func TestWatchDir(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	s := startWatch(t, e, &pb.WatchDirRequest{Path: dir, IncludeEntry: true})
	os.WriteFile(dir+"/new.txt", []byte("x"), 0o644)
	got := watchEvents(t, s, map[string]pb.EventType{"new.txt": pb.EventType_EVENT_TYPE_CREATE})
	if got[0].GetEntry().GetName() != "new.txt" {
		t.Fatalf("entry: %v", got[0])
	}
	watchEvents(t, s, map[string]pb.EventType{"new.txt": pb.EventType_EVENT_TYPE_WRITE})
	os.Chmod(dir+"/new.txt", 0o600)
	watchEvents(t, s, map[string]pb.EventType{"new.txt": pb.EventType_EVENT_TYPE_CHMOD})
	os.Rename(dir+"/new.txt", dir+"/renamed.txt")
	watchEvents(t, s, map[string]pb.EventType{"new.txt": pb.EventType_EVENT_TYPE_RENAME})
	os.Remove(dir + "/renamed.txt")
	watchEvents(t, s, map[string]pb.EventType{"renamed.txt": pb.EventType_EVENT_TYPE_REMOVE})

	// Uploads through /files are writes too.
	e.do("POST", filesQuery("path", dir+"/up.txt"), nil, map[string]string{"Content-Type": "application/octet-stream"})
	watchEvents(t, s, map[string]pb.EventType{"up.txt": pb.EventType_EVENT_TYPE_CREATE})

	// Not recursive: changes in subdirectories are not reported, the subdirectory's creation is.
	os.Mkdir(dir+"/sub", 0o755)
	os.WriteFile(dir+"/sub/inner.txt", nil, 0o644)
	os.WriteFile(dir+"/marker", nil, 0o644)
	for _, ev := range watchEvents(t, s,
		map[string]pb.EventType{"sub": pb.EventType_EVENT_TYPE_CREATE, "marker": pb.EventType_EVENT_TYPE_CREATE}) {
		if ev.GetName() == "sub/inner.txt" {
			t.Fatal("non-recursive watch saw a subdirectory's file")
		}
	}
}

func TestWatchDirRecursive(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.Mkdir(dir+"/existing", 0o755)
	s := startWatch(t, e, &pb.WatchDirRequest{Path: dir, Recursive: true})
	os.WriteFile(dir+"/existing/a.txt", nil, 0o644)
	watchEvents(t, s, map[string]pb.EventType{"existing/a.txt": pb.EventType_EVENT_TYPE_CREATE})
	os.MkdirAll(dir+"/new/deeper", 0o755)
	os.WriteFile(dir+"/new/deeper/b.txt", nil, 0o644)
	watchEvents(
		t,
		s,
		map[string]pb.EventType{"new": pb.EventType_EVENT_TYPE_CREATE, "new/deeper/b.txt": pb.EventType_EVENT_TYPE_CREATE},
	)
	os.WriteFile(dir+"/new/deeper/c.txt", nil, 0o644)
	watchEvents(t, s, map[string]pb.EventType{"new/deeper/c.txt": pb.EventType_EVENT_TYPE_CREATE})
}

func TestWatchDirErrors(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	s, err := e.fs.WatchDir(context.Background(), connect.NewRequest(&pb.WatchDirRequest{Path: dir + "/missing"}))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	wantCode(t, err, connect.CodeNotFound)
	os.WriteFile(dir+"/file", nil, 0o644)
	s, err = e.fs.WatchDir(context.Background(), connect.NewRequest(&pb.WatchDirRequest{Path: dir + "/file"}))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestPolledWatcher(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	cw, err := e.fs.CreateWatcher(ctx, connect.NewRequest(&pb.CreateWatcherRequest{Path: dir}))
	if err != nil {
		t.Fatal(err)
	}
	id := cw.Msg.GetWatcherId()
	os.WriteFile(dir+"/p.txt", nil, 0o644)
	eventually(t, "the create event", func() bool {
		res, err := e.fs.GetWatcherEvents(ctx, connect.NewRequest(&pb.GetWatcherEventsRequest{WatcherId: id}))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range res.Msg.GetEvents() {
			if ev.GetName() == "p.txt" && ev.GetType() == pb.EventType_EVENT_TYPE_CREATE {
				return true
			}
		}
		return false
	})
	if _, err := e.fs.RemoveWatcher(ctx, connect.NewRequest(&pb.RemoveWatcherRequest{WatcherId: id})); err != nil {
		t.Fatal(err)
	}
	_, err = e.fs.GetWatcherEvents(ctx, connect.NewRequest(&pb.GetWatcherEventsRequest{WatcherId: id}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = e.fs.CreateWatcher(ctx, connect.NewRequest(&pb.CreateWatcherRequest{Path: dir + "/missing"}))
	wantCode(t, err, connect.CodeNotFound)
}
