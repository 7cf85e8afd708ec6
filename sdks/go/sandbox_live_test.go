package tensorbox

// Integration tests of the sandbox lifecycle against the live server (see main_test.go).

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLiveLifecycle(t *testing.T) {
	o := liveOptions(t)
	ctx := testCtx(t)
	sbx := newTestSandbox(
		t,
		&CreateOptions{Envs: map[string]string{"API_TOKEN": "xxx"}, Metadata: map[string]string{"suite": "go-" + t.Name()}},
	)

	t.Run("env vars from the options' environment", func(t *testing.T) {
		t.Setenv("TENSOR_BOX_DOMAIN", o.Domain)
		t.Setenv("TENSOR_BOX_API_KEY", o.APIKey)
		info, err := GetInfoByID(ctx, sbx.SandboxID, nil)
		if err != nil || info.SandboxID != sbx.SandboxID {
			t.Fatalf("%v %+v", err, info)
		}
	})

	t.Run("GetInfo and IsRunning", func(t *testing.T) {
		info, err := sbx.GetInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State != "running" || info.TemplateID != "default" || info.Metadata["suite"] != "go-TestLiveLifecycle" ||
			info.CPUCount <= 0 ||
			info.MemoryMB <= 0 {
			t.Fatalf("info %+v", info)
		}
		if !sbx.IsRunning(ctx) {
			t.Fatal("IsRunning = false")
		}
	})

	t.Run("List filters by metadata and state", func(t *testing.T) {
		mine, err := List(ctx, &ListOptions{Options: o, Metadata: map[string]string{"suite": "go-TestLiveLifecycle"}})
		if err != nil || len(mine) != 1 || mine[0].SandboxID != sbx.SandboxID {
			t.Fatalf("mine: %v %+v", err, mine)
		}
		paused, err := List(
			ctx,
			&ListOptions{Options: o, State: []string{"paused"}, Metadata: map[string]string{"suite": "go-TestLiveLifecycle"}},
		)
		if err != nil || len(paused) != 0 {
			t.Fatalf("paused: %v %+v", err, paused)
		}
		paged, err := List(ctx, &ListOptions{Options: o, Limit: 1})
		if err != nil || len(paged) < 1 {
			t.Fatalf("paged: %v %+v", err, paged)
		}
		md := map[string]string{"suite": "go-TestLiveLifecycle"}
		filtered, err := List(
			ctx,
			&ListOptions{Options: o, Metadata: md, Template: "base", StartedAfter: mine[0].StartedAt, Order: "asc"},
		)
		if err != nil || len(filtered) != 1 || filtered[0].SandboxID != sbx.SandboxID {
			t.Fatalf("template/startedAfter/order: %v %+v", err, filtered)
		}
		none, err := List(ctx, &ListOptions{Options: o, Metadata: md, StartedAfter: time.Now().Add(time.Minute)})
		if err != nil || len(none) != 0 {
			t.Fatalf("started later: %v %+v", err, none)
		}
		if _, err := List(ctx, &ListOptions{Options: o, Order: "sideways"}); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("bad order: %v", err)
		}
	})

	t.Run("SetTimeout and KeepAlive move EndAt", func(t *testing.T) {
		if err := sbx.SetTimeout(ctx, 200*time.Second); err != nil {
			t.Fatal(err)
		}
		info, _ := sbx.GetInfo(ctx)
		if left := time.Until(info.EndAt); left < 190*time.Second || left > 201*time.Second {
			t.Fatalf("after SetTimeout: %v left", left)
		}
		if err := sbx.KeepAlive(ctx, 300*time.Second); err != nil {
			t.Fatal(err)
		}
		info, _ = sbx.GetInfo(ctx)
		if left := time.Until(info.EndAt); left < 290*time.Second {
			t.Fatalf("after KeepAlive: %v left", left)
		}
	})

	t.Run("Connect gives a working handle; Disconnect keeps the sandbox", func(t *testing.T) {
		again, err := Connect(ctx, sbx.SandboxID, &ConnectOptions{Options: o})
		if err != nil {
			t.Fatal(err)
		}
		r, err := again.Commands.Run(ctx, "echo $API_TOKEN", nil)
		if err != nil || r.Stdout != "xxx\n" {
			t.Fatalf("%v %+v", err, r)
		}
		again.Disconnect()
		if !sbx.IsRunning(ctx) {
			t.Fatal("the sandbox stopped after Disconnect")
		}
	})

	t.Run("metrics and logs", func(t *testing.T) {
		metrics, err := sbx.GetMetrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metrics {
			if m.Timestamp.IsZero() || m.MemTotal < m.MemUsed {
				t.Fatalf("metric %+v", m)
			}
		}
		logs, err := sbx.GetLogs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range logs {
			if l.Timestamp.IsZero() || l.Message == "" {
				t.Fatalf("log entry %+v", l)
			}
		}
	})
}

func TestLiveErrors(t *testing.T) {
	o := liveOptions(t)
	ctx := testCtx(t)
	if _, err := Create(ctx, "no-such-template", &CreateOptions{Options: o}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing template: %v", err)
	}
	if _, err := Connect(ctx, "nosuchsandbox0000000", &ConnectOptions{Options: o}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing sandbox: %v", err)
	}
	bad := o
	bad.APIKey = "e2b_" + strings.Repeat("f", 32)
	if _, err := Create(ctx, "default", &CreateOptions{Options: bad}); !errors.Is(err, ErrAuthentication) {
		t.Errorf("bad key: %v", err)
	}
	if _, err := Create(ctx, "default", &CreateOptions{Options: o, Timeout: 1e7 * time.Second}); !errors.Is(
		err,
		ErrInvalidArgument,
	) {
		t.Errorf("huge timeout: %v", err)
	}
	if ok, err := KillByID(ctx, "nosuchsandbox0000000", &o); ok || err != nil {
		t.Errorf("kill missing: %v %v", ok, err)
	}
}

func TestLiveKill(t *testing.T) {
	o := liveOptions(t)
	ctx := testCtx(t)
	a := newTestSandbox(t, nil)
	if err := a.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if a.IsRunning(ctx) {
		t.Fatal("still running after Kill")
	}
	if _, err := a.GetInfo(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetInfo after Kill: %v", err)
	}
	b := newTestSandbox(t, nil)
	if ok, err := KillByID(ctx, b.SandboxID, &o); !ok || err != nil {
		t.Fatalf("first KillByID: %v %v", ok, err)
	}
	if ok, err := KillByID(ctx, b.SandboxID, &o); ok || err != nil {
		t.Fatalf("second KillByID: %v %v", ok, err)
	}
	if err := SetTimeoutByID(ctx, b.SandboxID, time.Minute, &o); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetTimeoutByID on a killed sandbox: %v", err)
	}
}

func TestLivePauseResumeSnapshot(t *testing.T) {
	o := liveOptions(t)
	ctx := testCtx(t)
	sbx := newTestSandbox(t, nil)
	if _, err := sbx.Files.WriteString(ctx, "/home/user/kept.txt", "kept", nil); err != nil {
		t.Fatal(err)
	}
	bg, err := sbx.Commands.RunBackground(ctx, "sleep 600", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sbx.Pause(ctx); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if info, err := sbx.GetInfo(ctx); err != nil || info.State != "paused" {
		t.Fatalf("after pause: %v %+v", err, info)
	}
	if err := sbx.Pause(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("pausing a paused sandbox: %v", err)
	}
	if err := sbx.Resume(ctx, time.Minute); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if s, err := sbx.Files.Read(ctx, "/home/user/kept.txt", nil); err != nil || s != "kept" {
		t.Fatalf("file after resume: %q %v", s, err)
	}
	if !listed(t, sbx, bg.PID) {
		t.Fatal("the background process did not survive the pause")
	}

	snap, err := sbx.CreateSnapshot(ctx, "go-snap")
	if err != nil || snap.SnapshotID == "" || snap.SandboxID != sbx.SandboxID {
		t.Fatalf("snapshot: %v %+v", err, snap)
	}
	copyOpts := &CreateOptions{Options: o, Timeout: time.Minute}
	cp, err := Create(ctx, snap.SnapshotID, copyOpts)
	if err != nil {
		t.Fatalf("create from snapshot: %v", err)
	}
	defer KillByID(context.Background(), cp.SandboxID, &o)
	if s, err := cp.Files.Read(ctx, "/home/user/kept.txt", nil); err != nil || s != "kept" {
		t.Fatalf("file in the copy: %q %v", s, err)
	}
	snaps, err := ListSnapshots(ctx, &SnapshotListOptions{Options: o, SandboxID: sbx.SandboxID})
	if err != nil || len(snaps) != 1 || snaps[0].SnapshotID != snap.SnapshotID {
		t.Fatalf("list snapshots: %v %+v", err, snaps)
	}
}

func TestLiveFilesystemPause(t *testing.T) {
	o := liveOptions(t)
	ctx := testCtx(t)
	sbx := newTestSandbox(t, nil)
	bootID := func(s *Sandbox) string {
		id, err := s.Files.Read(ctx, "/proc/sys/kernel/random/boot_id", nil)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(id)
	}
	sleeping := func(s *Sandbox) bool {
		ps, err := s.Commands.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if strings.Contains(p.Cmd+" "+strings.Join(p.Args, " "), "sleep 600") {
				return true
			}
		}
		return false
	}
	if _, err := sbx.Files.WriteString(ctx, "/home/user/kept.txt", "kept", nil); err != nil {
		t.Fatal(err)
	}
	boot1 := bootID(sbx)
	if _, err := sbx.Commands.RunBackground(ctx, "sleep 600", nil); err != nil || !sleeping(sbx) {
		t.Fatalf("background sleep: %v", err)
	}
	if err := sbx.PauseFilesystem(ctx); err != nil {
		t.Fatalf("filesystem-only pause: %v", err)
	}
	if err := sbx.Resume(ctx, time.Minute); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if s, err := sbx.Files.Read(ctx, "/home/user/kept.txt", nil); err != nil || s != "kept" {
		t.Fatalf("file after resume: %q %v", s, err)
	}
	boot2 := bootID(sbx)
	if boot2 == boot1 || sleeping(sbx) {
		t.Fatalf("not a fresh boot: boot ID %s → %s, sleeping %v", boot1, boot2, sleeping(sbx))
	}
	// A memory pause connected with OnResume "reboot" boots afresh too.
	if _, err := sbx.Commands.RunBackground(ctx, "sleep 600", nil); err != nil {
		t.Fatal(err)
	}
	if err := sbx.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := Connect(ctx, sbx.SandboxID, &ConnectOptions{Options: o, OnResume: "reboot"})
	if err != nil {
		t.Fatalf("connect with reboot: %v", err)
	}
	if b := bootID(again); b == boot2 || sleeping(again) {
		t.Fatalf("reboot restored the memory: boot ID %s → %s", boot2, b)
	}
	if _, err := Connect(ctx, sbx.SandboxID, &ConnectOptions{Options: o, OnResume: "wake"}); !errors.Is(
		err, ErrInvalidArgument) {
		t.Fatalf("a bad OnResume: %v", err)
	}
	keep := false
	lc := &LifecycleConfig{OnTimeout: "kill", KeepMemory: &keep}
	if _, err := Create(ctx, "default", &CreateOptions{Options: o, Lifecycle: lc}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("KeepMemory without pause: %v", err)
	}
}

func TestLiveNetwork(t *testing.T) {
	o := liveOptions(t)
	ctx := testCtx(t)
	closed := false
	sbx := newTestSandbox(
		t,
		&CreateOptions{Network: &NetworkOptions{AllowPublicTraffic: &closed, DenyOut: []string{"198.51.100.0/24"}}},
	)
	if sbx.TrafficAccessToken == "" {
		t.Fatal("no traffic access token for a sandbox without public traffic")
	}
	if err := sbx.UpdateNetwork(ctx, []string{"203.0.113.9"}, []string{"0.0.0.0/0"}); err != nil {
		t.Fatal(err)
	}
	if err := sbx.UpdateNetwork(ctx, nil, []string{"not-an-ip"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad entry: %v", err)
	}
	if err := UpdateNetworkByID(ctx, "nosuchsandbox0000000", nil, nil, &o); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing sandbox: %v", err)
	}
}
