package tensorbox

// Integration tests of Files (contents, metadata, watches) and signed URLs against a live sandbox.

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLiveFiles(t *testing.T) {
	ctx := testCtx(t)
	sbx := newTestSandbox(t, nil)
	f := sbx.Files

	t.Run("text, bytes and streams round-trip", func(t *testing.T) {
		info, err := f.WriteString(ctx, "/home/user/hello.txt", "Hello World!", nil)
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != "hello.txt" || info.Path != "/home/user/hello.txt" || info.Type != FileTypeFile || info.Size != 12 ||
			info.Owner != "user" {
			t.Fatalf("info %+v", info)
		}
		if s, err := f.Read(ctx, "/home/user/hello.txt", nil); err != nil || s != "Hello World!" {
			t.Fatalf("read %q %v", s, err)
		}
		blob := make([]byte, 3<<20)
		rand.Read(blob)
		if _, err := f.Write(ctx, "/tmp/blob.bin", blob, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := f.ReadBytes(ctx, "/tmp/blob.bin", nil); err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("bytes differ (%d vs %d) %v", len(got), len(blob), err)
		}
		rc, err := f.ReadStream(ctx, "/tmp/blob.bin", nil)
		if err != nil {
			t.Fatal(err)
		}
		streamed, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(streamed, blob) {
			t.Fatalf("stream differs %v", err)
		}
		if _, err := f.WriteStream(ctx, "/tmp/streamed.txt", strings.NewReader("from a reader"), nil); err != nil {
			t.Fatal(err)
		}
		if s, _ := f.Read(ctx, "/tmp/streamed.txt", nil); s != "from a reader" {
			t.Fatalf("streamed write read back %q", s)
		}
	})

	t.Run("WriteFiles writes several files owned by the user", func(t *testing.T) {
		infos, err := f.WriteFiles(
			ctx,
			[]WriteEntry{{Path: "/tmp/a.txt", Data: []byte("aaa")}, {Path: "/tmp/sub/b.txt", Data: []byte("bbb")}},
			nil,
		)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 2 || infos[0].Path != "/tmp/a.txt" || infos[1].Name != "b.txt" || infos[1].Owner != "user" {
			t.Fatalf("infos %+v", infos)
		}
		if s, _ := f.Read(ctx, "/tmp/sub/b.txt", nil); s != "bbb" {
			t.Fatalf("b.txt = %q", s)
		}
	})

	t.Run("list, make dirs, exists, rename, remove", func(t *testing.T) {
		if ok, err := f.MakeDir(ctx, "/home/user/project/src", nil); !ok || err != nil {
			t.Fatalf("first MakeDir: %v %v", ok, err)
		}
		if ok, err := f.MakeDir(ctx, "/home/user/project/src", nil); ok || err != nil {
			t.Fatalf("second MakeDir: %v %v", ok, err)
		}
		if ok, err := f.Exists(ctx, "/home/user/project", nil); !ok || err != nil {
			t.Fatalf("Exists: %v %v", ok, err)
		}
		f.WriteString(ctx, "/home/user/project/old.txt", "x", nil)
		moved, err := f.Rename(ctx, "/home/user/project/old.txt", "/home/user/project/new.txt", nil)
		if err != nil || moved.Name != "new.txt" || moved.Path != "/home/user/project/new.txt" {
			t.Fatalf("rename %v %+v", err, moved)
		}
		entries, err := f.List(ctx, "/home/user/project", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name+":"+e.Type)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != "new.txt:file,src:dir" {
			t.Fatalf("entries %v", got)
		}
		st, err := f.GetInfo(ctx, "/home/user/project/new.txt", nil)
		if err != nil || st.Size != 1 || st.Owner != "user" || !strings.HasPrefix(st.Permissions, "-rw") ||
			st.ModifiedTime.IsZero() {
			t.Fatalf("stat %v %+v", err, st)
		}
		if err := f.Remove(ctx, "/home/user/project", nil); err != nil {
			t.Fatal(err)
		}
		if ok, err := f.Exists(ctx, "/home/user/project", nil); ok || err != nil {
			t.Fatalf("Exists after Remove: %v %v", ok, err)
		}
	})

	t.Run("missing paths are NotFound", func(t *testing.T) {
		if _, err := f.Read(ctx, "/nope/missing.txt", nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("read: %v", err)
		}
		if _, err := f.GetInfo(ctx, "/nope/missing.txt", nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("stat: %v", err)
		}
		if _, err := f.List(ctx, "/nope", nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("list: %v", err)
		}
	})

	t.Run("root can write where the user cannot", func(t *testing.T) {
		if _, err := f.WriteString(ctx, "/etc/tb-go-test", "x", nil); err == nil {
			t.Fatal("the default user wrote to /etc")
		}
		info, err := f.WriteString(ctx, "/etc/tb-go-test", "x", &FilesystemOptions{User: "root"})
		if err != nil || info.Owner != "root" {
			t.Fatalf("root write: %v %+v", err, info)
		}
	})
}

func TestLiveWatchDir(t *testing.T) {
	ctx := testCtx(t)
	sbx := newTestSandbox(t, nil)
	if _, err := sbx.Files.MakeDir(ctx, "/home/user/watched/sub", nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []WatchEvent
	exited := make(chan error, 1)
	w, err := sbx.Files.WatchDir(ctx, "/home/user/watched", func(ev WatchEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}, &WatchOptions{Recursive: true, OnExit: func(err error) { exited <- err }})
	if err != nil {
		t.Fatal(err)
	}
	sbx.Files.WriteString(ctx, "/home/user/watched/a.txt", "1", nil)
	sbx.Files.WriteString(ctx, "/home/user/watched/sub/b.txt", "2", nil)
	sbx.Files.Remove(ctx, "/home/user/watched/a.txt", nil)

	has := func(typ, path string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if e.Type == typ && e.Path == path {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for !(has("create", "/home/user/watched/a.txt") && has("create", "/home/user/watched/sub/b.txt") &&
		has("remove", "/home/user/watched/a.txt")) {
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("events so far: %+v", events)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.Stop()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("OnExit after Stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnExit not called after Stop")
	}
	<-w.Done()

	if _, err := sbx.Files.WatchDir(ctx, "/nope", func(WatchEvent) {}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("watching a missing dir: %v", err)
	}
}

func TestLiveSignedURLs(t *testing.T) {
	ctx := testCtx(t)
	sbx := newTestSandbox(t, nil)
	if _, err := sbx.Files.WriteString(ctx, "/home/user/output.txt", "downloadable", nil); err != nil {
		t.Fatal(err)
	}
	dl := sbx.DownloadURL("/home/user/output.txt")
	if !strings.Contains(dl, "signature=v1_") {
		t.Fatalf("a secure sandbox's URL carries a signature: %s", dl)
	}
	status, body := httpGet(t, dl)
	if status != 200 || body != "downloadable" {
		t.Fatalf("download: %d %q", status, body)
	}

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("file", "input.txt")
	part.Write([]byte("uploaded"))
	mw.Close()
	res, err := http.Post(
		sbx.UploadURL("/home/user/input.txt", SignedURLOptions{Expiration: time.Minute}),
		mw.FormDataContentType(),
		&form,
	)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("upload: %d", res.StatusCode)
	}
	if s, _ := sbx.Files.Read(ctx, "/home/user/input.txt", nil); s != "uploaded" {
		t.Fatalf("uploaded content %q", s)
	}

	forged := regexp.MustCompile(`signature=[^&]+`).ReplaceAllString(dl, "signature=v1_forged")
	if status, _ := httpGet(t, forged); status != 401 {
		t.Fatalf("forged signature: %d", status)
	}
	expired := sbx.signedFilesURL(
		"/home/user/output.txt",
		"read",
		[]SignedURLOptions{{Expiration: time.Second}},
		time.Now().Add(-time.Hour),
	)
	if status, _ := httpGet(t, expired); status == 200 {
		t.Fatal("an expired URL still downloads")
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
