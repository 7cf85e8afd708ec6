package agent_test

// Acting as another user: processes get the user's ids, groups and home; file operations get the user's permissions
// and ownership. These tests create a throwaway user and need root.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	fspb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
	pb "github.com/tensor-box/tensor-box/packages/envd/gen/process"
)

func TestProcessRunsAsUser(t *testing.T) {
	u := newTestUser(t)
	e := newEnv(t)
	r := e.run(
		asUser(connect.NewRequest(sh(`id -un; id -u; echo "$HOME $USER $LOGNAME $SHELL"; pwd; touch made-by-me`)), u.name),
	)
	want := fmt.Sprintf("%s\n%d\n%s %s %s /bin/sh\n%s\n", u.name, u.uid, u.home, u.name, u.name, u.home)
	if r.stdout != want || r.end.GetExitCode() != 0 {
		t.Fatalf("stdout %q stderr %q, want %q", r.stdout, r.stderr, want)
	}
	if ownerOf(t, filepath.Join(u.home, "made-by-me")) != u.uid {
		t.Fatal("file made by the process is not the user's")
	}
	// The default user from /init applies without an Authorization header.
	e.init(map[string]any{"defaultUser": u.name}, "")
	if r := e.run(connect.NewRequest(cmd("id", "-un"))); r.stdout != u.name+"\n" {
		t.Fatalf("default user: %q", r.stdout)
	}
	// Root can still be chosen explicitly.
	if r := e.run(asUser(connect.NewRequest(cmd("id", "-u")), "root")); r.stdout != "0\n" {
		t.Fatalf("root: %q", r.stdout)
	}
}

func TestUnknownUser(t *testing.T) {
	e := newEnv(t)
	s, err := e.proc.Start(context.Background(), asUser(connect.NewRequest(cmd("true")), "no-such-user-xyz"))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	wantCode(t, err, connect.CodeUnauthenticated)
	if !strings.Contains(err.Error(), "no-such-user-xyz") {
		t.Fatalf("message does not name the user: %v", err)
	}
	_, err = e.fs.Stat(context.Background(), asUser(connect.NewRequest(&fspb.StatRequest{Path: "/"}), "no-such-user-xyz"))
	wantCode(t, err, connect.CodeUnauthenticated)
	if st := e.init(map[string]any{"defaultUser": "no-such-user-xyz"}, ""); st != 400 {
		t.Fatalf("/init with an unknown default user: %d", st)
	}
}

func TestUserFileAccess(t *testing.T) {
	u := newTestUser(t)
	e := newEnv(t)
	ctx := context.Background()
	secretDir, err := os.MkdirTemp("", "envd-secret-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(secretDir)
	os.Chmod(secretDir, 0o700)
	os.WriteFile(secretDir+"/secret", []byte("root only"), 0o600)

	// Reading root's files is refused, as the user.
	if st, _, body := e.do("GET", filesQuery("path", secretDir+"/secret", "username", u.name), nil, nil); st != 403 {
		t.Fatalf("download of a root-only file: %d %s", st, body)
	}
	_, err = e.fs.ListDir(ctx, asUser(connect.NewRequest(&fspb.ListDirRequest{Path: secretDir}), u.name))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = e.fs.Stat(ctx, asUser(connect.NewRequest(&fspb.StatRequest{Path: secretDir + "/secret"}), u.name))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = e.fs.Remove(ctx, asUser(connect.NewRequest(&fspb.RemoveRequest{Path: secretDir + "/secret"}), u.name))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = e.fs.MakeDir(ctx, asUser(connect.NewRequest(&fspb.MakeDirRequest{Path: secretDir + "/mine"}), u.name))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = e.fs.WatchDir(ctx, asUser(connect.NewRequest(&fspb.WatchDirRequest{Path: secretDir}), u.name))
	if err == nil {
		_, err = e.fs.CreateWatcher(ctx, asUser(connect.NewRequest(&fspb.CreateWatcherRequest{Path: secretDir}), u.name))
	}
	wantCode(t, err, connect.CodePermissionDenied)
	if st, _, _ := e.do("POST", filesQuery("path", secretDir+"/planted", "username", u.name), strings.NewReader("x"),
		nil); st != 403 {
		t.Fatalf("upload into a root-only directory: %d", st)
	}
	req := cmd("pwd")
	req.Process.Cwd = &secretDir
	s, err := e.proc.Start(ctx, asUser(connect.NewRequest(req), u.name))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	wantCode(t, err, connect.CodePermissionDenied)
	if _, err := os.Stat(secretDir + "/secret"); err != nil {
		t.Fatal("the secret was removed")
	}

	// What the user creates is the user's, parents included; relative paths are in the user's home.
	st, _, body := e.do(
		"POST",
		filesQuery("path", "docs/new/file.txt", "username", u.name),
		strings.NewReader("mine"),
		nil,
	)
	if st != 200 || !strings.Contains(string(body), filepath.Join(u.home, "docs/new/file.txt")) {
		t.Fatalf("upload: %d %s", st, body)
	}
	for _, p := range []string{"docs", "docs/new", "docs/new/file.txt"} {
		if ownerOf(t, filepath.Join(u.home, p)) != u.uid {
			t.Fatalf("%s is not owned by the user", p)
		}
	}
	md, err := e.fs.MakeDir(ctx, asUser(connect.NewRequest(&fspb.MakeDirRequest{Path: "~/made"}), u.name))
	if err != nil || md.Msg.GetEntry().GetOwner() != u.name || md.Msg.GetEntry().GetPath() != u.home+"/made" {
		t.Fatalf("makedir: %v %v", md, err)
	}
	res, err := e.fs.ListDir(ctx, asUser(connect.NewRequest(&fspb.ListDirRequest{Path: ""}), u.name))
	if err != nil || len(names(res.Msg.GetEntries(), u.home)) < 2 {
		t.Fatalf("listing the home: %v %v", res, err)
	}
	if st, _, body := e.do("GET", filesQuery("path", "docs/new/file.txt", "username", u.name), nil, nil); st != 200 ||
		string(body) != "mine" {
		t.Fatalf("download: %d %s", st, body)
	}
	// envd's own threads are root again afterwards.
	if st, _, body := e.do("GET", filesQuery("path", secretDir+"/secret", "username", "root"), nil, nil); st != 200 ||
		string(body) != "root only" {
		t.Fatalf("root download after user operations: %d %s", st, body)
	}
}

func TestPtyOwnedByUser(t *testing.T) {
	u := newTestUser(t)
	e := newEnv(t)
	req := sh(`stat -c %U "$(tty)"`)
	req.Pty = &pb.PTY{Size: &pb.PTY_Size{Cols: 80, Rows: 24}}
	if r := e.run(asUser(connect.NewRequest(req), u.name)); !strings.Contains(r.pty, u.name) {
		t.Fatalf("pty owner: %q", r.pty)
	}
}
