package agent_test

// Missing parent directories are made by root and handed to the user, but only where the user can already look.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	fspb "github.com/tensor-box/tensor-box/packages/envd/gen/filesystem"
)

func TestMissingParentsMadeForTheUser(t *testing.T) {
	u := newTestUser(t)
	e := newEnv(t)
	ctx := context.Background()
	base, err := os.MkdirTemp("", "envd-dirs-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755) // root's, not writable by the user: like / for `user`

	// An upload below missing directories: they are made and the user's; a directory, a move and MakeDir likewise.
	if st, _, body := e.do("POST", filesQuery("path", base+"/0/1/file.txt", "username", u.name), strings.NewReader("x"),
		nil); st != 200 {
		t.Fatalf("upload below missing directories: %d %s", st, body)
	}
	for _, p := range []string{"0", "0/1", "0/1/file.txt"} {
		if ownerOf(t, filepath.Join(base, p)) != u.uid {
			t.Fatalf("%s is not the user's", p)
		}
	}
	if _, err := e.fs.MakeDir(ctx,
		asUser(connect.NewRequest(&fspb.MakeDirRequest{Path: base + "/m/n"}), u.name)); err != nil {
		t.Fatal(err)
	}
	if ownerOf(t, base+"/m") != u.uid || ownerOf(t, base+"/m/n") != u.uid {
		t.Fatal("MakeDir's directories are not the user's")
	}
	mv := &fspb.MoveRequest{Source: base + "/0/1/file.txt", Destination: base + "/moved/here/file.txt"}
	if _, err := e.fs.Move(ctx, asUser(connect.NewRequest(mv), u.name)); err != nil {
		t.Fatal(err)
	}
	// An existing root directory the user may not write stays so.
	os.Mkdir(base+"/rootdir", 0o755)
	if st, _, _ := e.do("POST", filesQuery("path", base+"/rootdir/f", "username", u.name), strings.NewReader("x"),
		nil); st != 403 {
		t.Fatalf("upload into an existing root directory: %d", st)
	}

	// Not where the user cannot look: below a root-only directory, directly or through the user's own symlink.
	secret := base + "/secret"
	os.Mkdir(secret, 0o700)
	home := u.home
	os.Symlink(secret, home+"/link")
	for _, p := range []string{secret + "/planted/f", home + "/link/planted/f"} {
		if st, _, _ := e.do("POST", filesQuery("path", p, "username", u.name), strings.NewReader("x"), nil); st != 403 {
			t.Fatalf("upload to %s: %d, want 403", p, st)
		}
		_, err := e.fs.MakeDir(ctx, asUser(connect.NewRequest(&fspb.MakeDirRequest{Path: filepath.Dir(p)}), u.name))
		wantCode(t, err, connect.CodePermissionDenied)
	}
	if des, _ := os.ReadDir(secret); len(des) != 0 {
		t.Fatalf("something was made in the root-only directory: %v", des)
	}
	// A file in the way is "not a directory".
	os.WriteFile(base+"/afile", nil, 0o644)
	if st, _, _ := e.do("POST", filesQuery("path", base+"/afile/x", "username", u.name), strings.NewReader("x"),
		nil); st != 400 {
		t.Fatalf("upload below a file: %d, want 400", st)
	}
}
