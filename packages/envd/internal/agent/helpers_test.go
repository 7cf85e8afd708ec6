package agent_test

// A real envd on a local listener (HTTP/1.1 and h2c), connect-go clients from the generated code, and helpers for
// streams, users and /init.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/packages/envd/gen/filesystem/filesystemconnect"
	pb "github.com/tensor-box/tensor-box/packages/envd/gen/process"
	"github.com/tensor-box/tensor-box/packages/envd/gen/process/processconnect"
	"github.com/tensor-box/tensor-box/packages/envd/internal/agent"
)

type env struct {
	t    *testing.T
	url  string
	http *http.Client // h2c
	proc processconnect.ProcessClient
	fs   filesystemconnect.FilesystemClient
}

func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

// defaultUser is root when the tests run as root, else the current user (processes cannot switch users then).
func defaultUser(t *testing.T) string {
	if os.Geteuid() == 0 {
		return "root"
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func newEnv(t *testing.T, opts ...connect.ClientOption) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(agent.New(agent.Options{DefaultUser: defaultUser(t)}).Handler())
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	hc := h2cClient()
	t.Cleanup(hc.CloseIdleConnections)
	return &env{
		t: t, url: srv.URL, http: hc,
		proc: processconnect.NewProcessClient(hc, srv.URL, opts...),
		fs:   filesystemconnect.NewFilesystemClient(hc, srv.URL, opts...),
	}
}

// init posts /init; token is sent as X-Access-Token when not empty. It returns the status.
func (e *env) init(body map[string]any, token string) int {
	e.t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.url+"/init", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Access-Token", token)
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// get does a GET with optional headers and returns status and body.
func (e *env) do(method, path string, body io.Reader, hdr map[string]string) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, data
}

func asUser[T any](req *connect.Request[T], name string) *connect.Request[T] {
	req.Header().Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(name+":")))
	return req
}

func withToken[T any](req *connect.Request[T], token string) *connect.Request[T] {
	req.Header().Set("X-Access-Token", token)
	return req
}

func cmd(name string, args ...string) *pb.StartRequest {
	return &pb.StartRequest{Process: &pb.ProcessConfig{Cmd: name, Args: args}}
}

func sh(script string) *pb.StartRequest { return cmd("/bin/sh", "-c", script) }

// result is what a process stream delivered.
type result struct {
	pid        uint32
	stdout     string
	stderr     string
	pty        string
	keepalives int
	end        *pb.ProcessEvent_EndEvent
	err        error
}

type eventStream interface {
	Receive() bool
	Err() error
	Close() error
}

// collect reads a Start or Connect stream to its end. The first event must be start.
func collect[T interface{ GetEvent() *pb.ProcessEvent }](t *testing.T, s interface {
	eventStream
	Msg() T
}) result {
	t.Helper()
	var r result
	first := true
	for s.Receive() {
		ev := s.Msg().GetEvent()
		if first && ev.GetStart() == nil {
			t.Fatalf("first event is not start: %v", ev)
		}
		first = false
		switch {
		case ev.GetStart() != nil:
			r.pid = ev.GetStart().GetPid()
		case ev.GetData() != nil:
			d := ev.GetData()
			r.stdout += string(d.GetStdout())
			r.stderr += string(d.GetStderr())
			r.pty += string(d.GetPty())
		case ev.GetKeepalive() != nil:
			r.keepalives++
		case ev.GetEnd() != nil:
			r.end = ev.GetEnd()
		}
	}
	r.err = s.Err()
	s.Close()
	return r
}

// run starts req and waits for its end.
func (e *env) run(req *connect.Request[pb.StartRequest]) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := e.proc.Start(ctx, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return collect(e.t, s)
}

// started starts req and returns the stream after its start event.
func (e *env) started(
	ctx context.Context,
	req *connect.Request[pb.StartRequest],
) (*connect.ServerStreamForClient[pb.StartResponse], uint32) {
	e.t.Helper()
	s, err := e.proc.Start(ctx, req)
	if err != nil {
		e.t.Fatal(err)
	}
	if !s.Receive() || s.Msg().GetEvent().GetStart() == nil {
		e.t.Fatalf("no start event: %v", s.Err())
	}
	return s, s.Msg().GetEvent().GetStart().GetPid()
}

func codeOf(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return connect.CodeUnknown
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if codeOf(err) != code {
		t.Fatalf("want %v, got %v", code, err)
	}
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procsWithArg lists the pids whose command line contains arg (how tests find their processes).
func procsWithArg(arg string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(string(stat), ") Z ") {
			continue // zombie: dead, waiting to be reaped
		}
		for _, a := range strings.Split(string(data), "\x00") {
			if a == arg {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// testUser is a throwaway system user with a home under a world-traversable temp dir; removed after the test.
type testUser struct {
	name string
	home string
	uid  int
}

func newTestUser(t *testing.T) testUser {
	t.Helper()
	requireRoot(t, "creates a user")
	base, err := os.MkdirTemp("", "envd-user-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	name := fmt.Sprintf("tbenvd%d", time.Now().UnixNano()%1_000_000)
	home := filepath.Join(base, "home")
	if out, err := exec.Command("useradd", "-m", "-d", home, "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("pkill", "-KILL", "-u", name).Run()
		exec.Command("userdel", name).Run()
		os.RemoveAll(base)
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	var uid int
	fmt.Sscan(u.Uid, &uid)
	return testUser{name: name, home: home, uid: uid}
}

func ownerOf(t *testing.T, path string) int {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}
