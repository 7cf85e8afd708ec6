package tensorbox

// The SDK's agent wire against fakeEnvd (envd_fake_test.go): real Connect JSON streams and real local processes.

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

func TestWireCommands(t *testing.T) {
	sbx, fake := newFakeSandbox(t)
	ctx := testCtx(t)

	r, err := sbx.Commands.Run(
		ctx,
		"echo out; echo err >&2; echo $FOO",
		&CommandOptions{Envs: map[string]string{"FOO": "bar"}, User: "root"},
	)
	if err != nil || r.Stdout != "out\nbar\n" || r.Stderr != "err\n" || r.ExitCode != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	h := fake.headers[len(fake.headers)-1]
	if h.Get("E2b-Sandbox-Id") != "sbxfake" || h.Get("E2b-Sandbox-Port") != "49983" ||
		h.Get("X-Access-Token") != "secret-token" ||
		h.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("root:")) ||
		h.Get("Keepalive-Ping-Interval") == "" {
		t.Fatalf("agent headers %v", h)
	}

	_, err = sbx.Commands.Run(ctx, "echo partial; exit 3", nil)
	var ce *CommandExitError
	if !errors.As(err, &ce) || ce.ExitCode != 3 || ce.Stdout != "partial\n" {
		t.Fatalf("exit: %v", err)
	}

	start := time.Now()
	if _, err := sbx.Commands.Run(ctx, "sleep 30", &CommandOptions{Timeout: 300 * time.Millisecond}); !errors.Is(
		err,
		ErrTimeout,
	) {
		t.Fatalf("timeout: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout took %v", time.Since(start))
	}

	cat, err := sbx.Commands.RunBackground(ctx, "cat", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.SendStdin(ctx, []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if err := cat.CloseStdin(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := cat.Wait(ctx); err != nil || r.Stdout != "hello\n" {
		t.Fatalf("cat: %v %+v", err, r)
	}

	sleeper, err := sbx.Commands.RunBackground(ctx, "sleep 600", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !listed(t, sbx, sleeper.PID) {
		t.Fatal("not listed")
	}
	if ok, err := sleeper.Kill(ctx); !ok || err != nil {
		t.Fatalf("kill: %v %v", ok, err)
	}
	if _, err := sleeper.Wait(ctx); !errors.Is(err, ErrCommandExit) {
		t.Fatalf("wait after kill: %v", err)
	}
	if ok, err := sbx.Commands.Kill(ctx, sleeper.PID); ok || err != nil {
		t.Fatalf("kill of an ended process: %v %v", ok, err)
	}
}

func TestWireFiles(t *testing.T) {
	sbx, _ := newFakeSandbox(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	f := sbx.Files

	info, err := f.WriteString(ctx, dir+"/a/hello.txt", "Hello World!", nil)
	if err != nil || info.Name != "hello.txt" || info.Size != 12 || info.Type != FileTypeFile {
		t.Fatalf("write: %v %+v", err, info)
	}
	if s, err := f.Read(ctx, dir+"/a/hello.txt", nil); err != nil || s != "Hello World!" {
		t.Fatalf("read: %q %v", s, err)
	}
	if _, err := f.Read(ctx, dir+"/missing", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read missing: %v", err)
	}
	infos, err := f.WriteFiles(
		ctx,
		[]WriteEntry{{Path: dir + "/x.txt", Data: []byte("x")}, {Path: dir + "/sub/y.txt", Data: []byte("yy")}},
		nil,
	)
	if err != nil || len(infos) != 2 || infos[1].Path != dir+"/sub/y.txt" || infos[1].Size != 2 {
		t.Fatalf("write files: %v %+v", err, infos)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sub", "y.txt")); string(b) != "yy" {
		t.Fatalf("multipart part landed wrong: %q", b)
	}
	if ok, err := f.MakeDir(ctx, dir+"/p/q", nil); !ok || err != nil {
		t.Fatalf("mkdir: %v %v", ok, err)
	}
	if ok, err := f.MakeDir(ctx, dir+"/p/q", nil); ok || err != nil {
		t.Fatalf("mkdir again: %v %v", ok, err)
	}
	if ok, err := f.Exists(ctx, dir+"/p", nil); !ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if ok, err := f.Exists(ctx, dir+"/nope", nil); ok || err != nil {
		t.Fatalf("exists missing: %v %v", ok, err)
	}
	entries, err := f.List(ctx, dir, nil)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name+":"+e.Type)
	}
	if err != nil || strings.Join(names, ",") != "a:dir,p:dir,sub:dir,x.txt:file" {
		t.Fatalf("list: %v %v", err, names)
	}
	// Rename is not served by the fake: an unimplemented RPC must surface as an SDK error, not a panic.
	if _, err := f.Rename(ctx, dir+"/x.txt", dir+"/z.txt", nil); err == nil {
		t.Fatal("rename against an agent without Move succeeded")
	}
}

func TestWireWatchDir(t *testing.T) {
	sbx, _ := newFakeSandbox(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	got := make(chan WatchEvent, 4)
	exited := make(chan error, 1)
	w, err := sbx.Files.WatchDir(
		ctx,
		dir+"/",
		func(ev WatchEvent) { got <- ev },
		&WatchOptions{OnExit: func(err error) { exited <- err }},
	)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Type != "create" || ev.Name != "a.txt" || ev.Path != dir+"/a.txt" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	w.Stop()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("OnExit after Stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnExit not called")
	}
	if _, err := sbx.Files.WatchDir(ctx, dir+"/missing", func(WatchEvent) {}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing dir: %v", err)
	}
}

// The control plane answers agent RPCs for a missing sandbox itself, with its own error body; unary and streaming
// calls must both see ErrNotFound (connect-go alone would say Unimplemented on streams).
func TestWireIngressErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/filesystem.") {
			w.WriteHeader(502)
			w.Write([]byte(`{"code":502,"message":"sandbox port 49983 is not reachable","error_code":"unavailable"}`))
			return
		}
		w.WriteHeader(404)
		w.Write([]byte(`{"code":404,"message":"sandbox sbxgone not found","error_code":"not_found"}`))
	}))
	defer srv.Close()
	sbx := newSandbox(&api.Sandbox{SandboxID: "sbxgone"}, resolveOptions(&Options{Domain: srv.URL}))
	ctx := testCtx(t)
	_, err := sbx.Commands.Run(ctx, "true", nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sandbox sbxgone not found") {
		t.Fatalf("stream: %v", err)
	}
	if _, err := sbx.Commands.List(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unary: %v", err)
	}
	if _, err := sbx.Files.GetInfo(ctx, "/x", nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unreachable agent: %v", err)
	}
}
