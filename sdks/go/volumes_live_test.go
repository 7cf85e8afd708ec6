package tensorbox

// Integration test of volumes against the live server (see main_test.go): create, mount in a sandbox, the content
// API's file helpers, delete refused while mounted, the size limit, delete.

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLiveVolumes(t *testing.T) {
	opts := liveOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vol, err := CreateVolume(ctx, "go-vol", 16, &opts)
	if err != nil || vol.SizeMB != 16 || vol.Token == "" {
		t.Fatalf("create: %+v, %v", vol, err)
	}
	if _, err := vol.WriteFile(ctx, "/in.txt", []byte("from go")); err != nil {
		t.Fatal(err)
	}
	sbx, err := Create(ctx, "default", &CreateOptions{Options: opts, Timeout: time.Minute,
		VolumeMounts: map[string]string{"/mnt/go": "go-vol"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sbx.Kill(context.Background())
	r, err := sbx.Commands.Run(ctx, "cat /mnt/go/in.txt; echo out > /mnt/go/out.txt", nil)
	if err != nil || r.Stdout != "from go" {
		t.Fatalf("in the sandbox: %+v, %v", r, err)
	}
	if err := DeleteVolume(ctx, "go-vol", &opts); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete while mounted: %v", err)
	}
	if err := sbx.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := GetVolume(ctx, "go-vol", &opts)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := got.ReadFile(ctx, "/out.txt"); err != nil || string(b) != "out\n" {
		t.Fatalf("read: %q, %v", b, err)
	}
	if _, err := got.MakeDir(ctx, "/a/b", true); err != nil {
		t.Fatal(err)
	}
	entries, err := got.List(ctx, "/", 2)
	if err != nil || len(entries) != 5 { // a, a/b, in.txt, lost+found, out.txt
		t.Fatalf("list: %+v, %v", entries, err)
	}
	if e, err := got.GetInfo(ctx, "/a"); err != nil || e.Type != "directory" {
		t.Fatalf("stat: %+v, %v", e, err)
	}
	if err := got.Remove(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := got.GetInfo(ctx, "/a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed: %v", err)
	}
	if _, err := got.WriteFile(ctx, "/big", make([]byte, 24<<20)); !errors.Is(err, ErrNotEnoughSpace) {
		t.Fatalf("full: %v", err)
	}
	if _, err := got.ReadFile(ctx, "/../etc/passwd"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("..: %v", err)
	}
	if err := DeleteVolume(ctx, vol.VolumeID, &opts); err != nil {
		t.Fatal(err)
	}
	if list, err := ListVolumes(ctx, &opts); err != nil || len(list) != 0 {
		t.Fatalf("list after delete: %+v, %v", list, err)
	}
}
