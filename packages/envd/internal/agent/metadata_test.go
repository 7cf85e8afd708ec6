package agent_test

// File metadata (X-Metadata-* → user.e2b.* xattrs) and the watch events of an upload, as E2B's envd produces them.

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sys/unix"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
)

type uploadedWithMetadata struct {
	Path     string            `json:"path"`
	Metadata map[string]string `json:"metadata"`
}

func (e *env) upload(path, content string, hdr map[string]string) (int, []uploadedWithMetadata) {
	e.t.Helper()
	h := map[string]string{"Content-Type": "application/octet-stream"}
	for k, v := range hdr {
		h[k] = v
	}
	st, _, body := e.do("POST", filesQuery("path", path), strings.NewReader(content), h)
	var got []uploadedWithMetadata
	if st == 200 {
		if err := json.Unmarshal(body, &got); err != nil {
			e.t.Fatalf("upload answer %s: %v", body, err)
		}
	}
	return st, got
}

func (e *env) statMetadata(path string) map[string]string {
	e.t.Helper()
	res, err := e.fs.Stat(context.Background(), connect.NewRequest(&pb.StatRequest{Path: path}))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Msg.GetEntry().GetMetadata()
}

func TestUploadMetadata(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	path := dir + "/meta.txt"
	want := map[string]string{"author": "mish", "purpose": "upload"}
	st, got := e.upload(path, "x", map[string]string{"X-Metadata-Author": "mish", "x-metadata-purpose": "upload"})
	if st != 200 || len(got) != 1 || !reflect.DeepEqual(got[0].Metadata, want) {
		t.Fatalf("upload: %d %+v", st, got)
	}
	if md := e.statMetadata(path); !reflect.DeepEqual(md, want) {
		t.Fatalf("stat metadata: %v", md)
	}
	list, err := e.fs.ListDir(context.Background(), connect.NewRequest(&pb.ListDirRequest{Path: dir}))
	if err != nil || !reflect.DeepEqual(list.Msg.GetEntries()[0].GetMetadata(), want) {
		t.Fatalf("list: %v %v", list, err)
	}
	moved, err := e.fs.Move(
		context.Background(),
		connect.NewRequest(&pb.MoveRequest{Source: path, Destination: dir + "/moved.txt"}),
	)
	if err != nil || !reflect.DeepEqual(moved.Msg.GetEntry().GetMetadata(), want) {
		t.Fatalf("move: %v %v", moved, err)
	}
	path = dir + "/moved.txt"

	// An upload replaces the whole set: without headers, nothing is left.
	if st, got := e.upload(path, "y", nil); st != 200 || got[0].Metadata != nil {
		t.Fatalf("overwrite: %d %+v", st, got)
	}
	if md := e.statMetadata(path); md != nil {
		t.Fatalf("stale metadata after overwrite: %v", md)
	}
	// Attributes set inside the sandbox show too; other namespaces do not.
	if err := unix.Setxattr(path, "user.e2b.origin", []byte("inside"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(path, "user.other", []byte("hidden"), 0); err != nil {
		t.Fatal(err)
	}
	if md := e.statMetadata(path); !reflect.DeepEqual(md, map[string]string{"origin": "inside"}) {
		t.Fatalf("xattr set inside: %v", md)
	}
}

func TestUploadMetadataRefused(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	big := strings.Repeat("v", 1500)
	hdr := map[string]string{"X-Metadata-A": big, "X-Metadata-B": big, "X-Metadata-C": big}
	if st, _ := e.upload(dir+"/big.txt", "x", hdr); st != 400 {
		t.Fatalf("over 4 KiB of metadata: %d, want 400", st)
	}
	if _, err := os.Stat(dir + "/big.txt"); !os.IsNotExist(err) {
		t.Fatalf("a refused upload left the file: %v", err)
	}
	if st, _ := e.upload(dir+"/long.txt", "x",
		map[string]string{"X-Metadata-" + strings.Repeat("k", 250): "v"}); st != 400 {
		t.Fatalf("a key past the xattr name limit: %d, want 400", st)
	}
}

type seenEvent struct {
	name     string
	kind     pb.EventType
	hasEntry bool
}

// pollEvents returns what the watcher saw once things have been quiet for a moment; consecutive duplicates (which
// inotify may or may not merge) are folded.
func pollEvents(t *testing.T, e *env, id string) []seenEvent {
	t.Helper()
	var out []seenEvent
	deadline := time.Now().Add(5 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		res, err := e.fs.GetWatcherEvents(
			context.Background(),
			connect.NewRequest(&pb.GetWatcherEventsRequest{WatcherId: id}),
		)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Msg.GetEvents()) == 0 && len(out) > 0 {
			quiet++
		}
		for _, ev := range res.Msg.GetEvents() {
			s := seenEvent{ev.GetName(), ev.GetType(), ev.Entry != nil}
			if len(out) == 0 || out[len(out)-1] != s {
				out = append(out, s)
			}
		}
	}
	return out
}

func TestUploadWatchEventSequence(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	cw, err := e.fs.CreateWatcher(context.Background(),
		connect.NewRequest(&pb.CreateWatcherRequest{Path: dir, IncludeEntry: true, AllowNetworkMounts: true}))
	if err != nil {
		t.Fatal(err)
	}
	id := cw.Msg.GetWatcherId()
	const (
		create = pb.EventType_EVENT_TYPE_CREATE
		chmod  = pb.EventType_EVENT_TYPE_CHMOD
		write  = pb.EventType_EVENT_TYPE_WRITE
	)
	e.upload(dir+"/w.txt", "first", nil)
	want := []seenEvent{{"w.txt", create, true}, {"w.txt", chmod, true}, {"w.txt", write, true}}
	if got := pollEvents(t, e, id); !reflect.DeepEqual(got, want) {
		t.Fatalf("new file: got %v, want %v", got, want)
	}
	e.upload(dir+"/w.txt", "second", map[string]string{"X-Metadata-K": "v"})
	want = []seenEvent{{"w.txt", chmod, true}, {"w.txt", write, true}, {"w.txt", chmod, true}}
	if got := pollEvents(t, e, id); !reflect.DeepEqual(got, want) {
		t.Fatalf("overwrite with metadata: got %v, want %v", got, want)
	}
}
