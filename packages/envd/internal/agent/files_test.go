package agent_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	fspb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
	"github.com/tensor-box/tensor-box/packages/envd/internal/agent"
)

type uploaded struct {
	Path string `json:"path"`
	Name string `json:"name"`
	Type string `json:"type"`
}

func filesQuery(params ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return "/files?" + q.Encode()
}

func multipartBody(t *testing.T, files map[string]string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, content := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, name))
		h.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(h)
		w.Write([]byte(content))
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestUploadRawAndDownload(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "deep", "er", "hello.txt")
	st, _, body := e.do(
		"POST",
		filesQuery("path", path),
		strings.NewReader("Hello World!"),
		map[string]string{"Content-Type": "application/octet-stream"},
	)
	var got []uploaded
	if st != 200 || json.Unmarshal(body, &got) != nil || len(got) != 1 || got[0] != (uploaded{path, "hello.txt", "file"}) {
		t.Fatalf("upload: %d %s", st, body)
	}
	// Overwrite in place.
	e.do(
		"POST",
		filesQuery("path", path),
		strings.NewReader("short"),
		map[string]string{"Content-Type": "application/octet-stream"},
	)
	st, hdr, body := e.do("GET", filesQuery("path", path), nil, nil)
	if st != 200 || string(body) != "short" || hdr.Get("Content-Type") != "application/octet-stream" ||
		!strings.Contains(hdr.Get("Content-Disposition"), `filename=hello.txt`) {
		t.Fatalf("download: %d %q %v", st, body, hdr)
	}
	st, hdr, body = e.do("GET", filesQuery("path", path), nil, map[string]string{"Accept-Encoding": "gzip"})
	if st != 200 || hdr.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip download: %d %v", st, hdr)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != "short" {
		t.Fatalf("gunzipped %q", plain)
	}
}

func TestUploadMultipart(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "sub", "b.txt")
	body, ct := multipartBody(t, map[string]string{a: "aaa", b: "bbb"})
	st, _, resp := e.do("POST", filesQuery(), body, map[string]string{"Content-Type": ct})
	var got []uploaded
	if st != 200 || json.Unmarshal(resp, &got) != nil || len(got) != 2 {
		t.Fatalf("upload: %d %s", st, resp)
	}
	for p, want := range map[string]string{a: "aaa", b: "bbb"} {
		if data, err := os.ReadFile(p); err != nil || string(data) != want {
			t.Fatalf("%s: %q %v", p, data, err)
		}
	}
	// A single part with the `path` query goes to that path, whatever its filename.
	c := filepath.Join(dir, "c.txt")
	body, ct = multipartBody(t, map[string]string{"ignored.bin": "ccc"})
	if st, _, resp := e.do("POST", filesQuery("path", c), body, map[string]string{"Content-Type": ct}); st != 200 {
		t.Fatalf("upload with path: %d %s", st, resp)
	}
	if data, _ := os.ReadFile(c); string(data) != "ccc" {
		t.Fatalf("c.txt: %q", data)
	}
}

func TestFilesErrors(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		method, query string
		body          string
		want          int
	}{
		{"GET", filesQuery("path", dir+"/missing"), "", 404},
		{"GET", filesQuery("path", dir), "", 400},
		{"POST", filesQuery(), "x", 400},                                         // raw upload without path
		{"POST", filesQuery("path", dir), "x", 400},                              // onto a directory
		{"GET", filesQuery("path", dir, "username", "nobody-here-xyz"), "", 401}, // unknown user
	} {
		st, _, body := e.do(
			tc.method,
			tc.query,
			strings.NewReader(tc.body),
			map[string]string{"Content-Type": "application/octet-stream"},
		)
		var msg struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if st != tc.want || json.Unmarshal(body, &msg) != nil || msg.Code != tc.want || msg.Message == "" {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.query, st, body, tc.want)
		}
	}
}

func TestUploadNoSpace(t *testing.T) {
	requireRoot(t, "mounts a small tmpfs")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	e := newEnv(t)
	st, _, body := e.do(
		"POST",
		filesQuery("path", dir+"/big"),
		bytes.NewReader(make([]byte, 1<<20)),
		map[string]string{"Content-Type": "application/octet-stream"},
	)
	if st != 507 {
		t.Fatalf("want 507, got %d %s", st, body)
	}
}

func TestAccessToken(t *testing.T) {
	e := newEnv(t)
	if st, _, _ := e.do("GET", "/envs", nil, nil); st != 200 {
		t.Fatalf("no token yet: %d", st)
	}
	if st := e.init(map[string]any{"accessToken": "secret", "envVars": map[string]string{"X": "1"}}, ""); st != 204 {
		t.Fatalf("/init: %d", st)
	}
	for _, p := range []string{"/envs", "/metrics", filesQuery("path", "/etc/hostname")} {
		if st, _, body := e.do("GET", p, nil, nil); st != 401 || !strings.Contains(string(body), `"code":401`) {
			t.Errorf("%s without token: %d %s", p, st, body)
		}
		if st, _, _ := e.do("GET", p, nil, map[string]string{"X-Access-Token": "wrong"}); st != 401 {
			t.Errorf("%s with a wrong token: %d", p, st)
		}
		if st, _, _ := e.do("GET", p, nil, map[string]string{"X-Access-Token": "secret"}); st != 200 {
			t.Errorf("%s with the token: %d", p, st)
		}
	}
	if st, _, _ := e.do("GET", "/health", nil, nil); st != 204 {
		t.Fatalf("/health: %d", st)
	}
	// A set token can be re-sent (resume) but only by whoever has it.
	if st := e.init(map[string]any{"accessToken": "other"}, ""); st != 401 {
		t.Fatalf("/init without the token: %d", st)
	}
	if st := e.init(map[string]any{"accessToken": "secret", "envVars": map[string]string{"Y": "2"}}, "secret"); st != 204 {
		t.Fatalf("/init with the token: %d", st)
	}
	_, _, body := e.do("GET", "/envs", nil, map[string]string{"X-Access-Token": "secret"})
	if string(bytes.TrimSpace(body)) != `{"Y":"2"}` {
		t.Fatalf("envVars are replaced: %s", body)
	}
	// RPCs.
	_, err := e.fs.Stat(context.Background(), connect.NewRequest(&fspb.StatRequest{Path: "/"}))
	wantCode(t, err, connect.CodeUnauthenticated)
	if _, err := e.fs.Stat(context.Background(),
		withToken(connect.NewRequest(&fspb.StatRequest{Path: "/"}), "secret")); err != nil {
		t.Fatal(err)
	}
	s, err := e.proc.Start(context.Background(), connect.NewRequest(cmd("true")))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	wantCode(t, err, connect.CodeUnauthenticated)
}

func TestInitIgnoresOlderTimestamp(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.init(map[string]any{"envVars": map[string]string{"V": "new"}, "timestamp": now.Format(time.RFC3339Nano)}, "")
	e.init(
		map[string]any{"envVars": map[string]string{"V": "old"}, "timestamp": now.Add(-time.Minute).Format(time.RFC3339Nano)},
		"",
	)
	if _, _, body := e.do("GET", "/envs", nil, nil); !strings.Contains(string(body), `"V":"new"`) {
		t.Fatalf("/envs: %s", body)
	}
}

func TestSignedURLs(t *testing.T) {
	e := newEnv(t)
	e.init(map[string]any{"accessToken": "tok"}, "")
	path := filepath.Join(t.TempDir(), "signed.txt")
	user := defaultUser(t)
	raw := map[string]string{"Content-Type": "application/octet-stream"}

	sig := agent.Signature(path, "write", user, "tok", nil)
	if st, _, body := e.do("POST", filesQuery("path", path, "username", user, "signature", sig),
		strings.NewReader("signed"), raw); st != 200 {
		t.Fatalf("signed upload: %d %s", st, body)
	}
	// The signature binds the operation, the path and the user.
	if st, _, _ := e.do("GET", filesQuery("path", path, "username", user, "signature", sig), nil, nil); st != 401 {
		t.Fatalf("write signature used to read: %d", st)
	}
	if st, _, _ := e.do("GET",
		filesQuery("path", path+"x", "username", user, "signature",
			agent.Signature(path, "read", user, "tok", nil)), nil, nil); st != 401 {
		t.Fatalf("signature for another path: %d", st)
	}
	if st, _, _ := e.do("GET", filesQuery("path", path, "username", user, "signature", "v1_bogus"), nil, nil); st != 401 {
		t.Fatalf("bogus signature: %d", st)
	}
	if st, _, _ := e.do("GET", filesQuery("path", path, "username", user), nil, nil); st != 401 {
		t.Fatalf("no signature: %d", st)
	}
	// Without username the signature covers "" (the default user).
	read := agent.Signature(path, "read", "", "tok", nil)
	if st, _, body := e.do("GET", filesQuery("path", path, "signature", read), nil, nil); st != 200 ||
		string(body) != "signed" {
		t.Fatalf("signed download: %d %s", st, body)
	}
	future := time.Now().Add(time.Minute).Unix()
	if st, _, _ := e.do("GET", filesQuery("path", path, "signature", agent.Signature(path, "read", "", "tok", &future),
		"signature_expiration", fmt.Sprint(future)), nil, nil); st != 200 {
		t.Fatalf("unexpired signature: %d", st)
	}
	past := time.Now().Add(-time.Minute).Unix()
	if st, _, body := e.do("GET", filesQuery("path", path, "signature", agent.Signature(path, "read", "", "tok", &past),
		"signature_expiration", fmt.Sprint(past)), nil, nil); st != 401 ||
		strings.TrimSpace(string(body)) != `{"code":401,"message":"signature is already expired"}` {
		t.Fatalf("expired signature: %d %s", st, body)
	}
	if st, _, _ := e.do("GET", filesQuery("path", path, "signature", agent.Signature(path, "read", "", "tok", &past),
		"signature_expiration", fmt.Sprint(future)), nil, nil); st != 401 {
		t.Fatalf("expiration changed after signing: %d", st)
	}
}

func TestSignatureFormat(t *testing.T) {
	// Known values: "v1_" + unpadded std base64 of sha256("<path>:<op>:<user>:<token>[:<exp>]"), as the e2b SDKs sign.
	if got := agent.Signature("/a", "read", "user", "tok", nil); got != "v1_Fh5abAPjRBN6FHQ5HTJwGAHjHfzJmhV0f2EtHLgLVa0" {
		t.Fatalf("signature %q", got)
	}
	exp := int64(1700000000)
	if got := agent.Signature("/a", "write", "", "tok", &exp); got != "v1_mjxxxxy3eJs7N3KvZv0U81WL0E+b9Sb6bNXE6nSO8g0" {
		t.Fatalf("signature with expiration %q", got)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	st, _, body := e.do("GET", "/metrics", nil, nil)
	var m map[string]float64
	if st != 200 || json.Unmarshal(body, &m) != nil {
		t.Fatalf("%d %s", st, body)
	}
	for _, k := range []string{"ts", "cpu_count", "cpu_used_pct", "mem_total", "mem_used", "disk_used", "disk_total"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s in %s", k, body)
		}
	}
	if m["cpu_count"] < 1 || m["mem_total"] <= 0 || m["disk_total"] <= 0 {
		t.Fatalf("implausible: %s", body)
	}
}

func TestCORSPreflight(t *testing.T) {
	e := newEnv(t)
	e.init(map[string]any{"accessToken": "tok"}, "")
	st, hdr, _ := e.do(
		"OPTIONS",
		"/process.Process/Start",
		nil,
		map[string]string{"Origin": "http://x", "Access-Control-Request-Method": "POST"},
	)
	if st != 204 || hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%d %v", st, hdr)
	}
}
