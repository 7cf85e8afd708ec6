package tensorbox

// Integration tests of Commands against a live sandbox.

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLiveCommands(t *testing.T) {
	ctx := testCtx(t)
	sbx := newTestSandbox(t, &CreateOptions{Envs: map[string]string{"API_TOKEN": "xxx"}})

	t.Run("foreground: stdout, stderr, exit code, default user and cwd", func(t *testing.T) {
		r, err := sbx.Commands.Run(ctx, "echo $API_TOKEN; echo err >&2; whoami; pwd", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode != 0 || r.Stdout != "xxx\nuser\n/home/user\n" || r.Stderr != "err\n" {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("non-zero exit is a CommandExitError with the output", func(t *testing.T) {
		_, err := sbx.Commands.Run(ctx, "echo partial; exit 3", nil)
		var ce *CommandExitError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCommandExit) || ce.ExitCode != 3 || ce.Stdout != "partial\n" {
			t.Fatalf("%v", err)
		}
	})

	t.Run("envs, cwd, user and streamed output", func(t *testing.T) {
		var mu sync.Mutex
		var chunks []string
		r, err := sbx.Commands.Run(ctx, "for i in 1 2 3; do echo $FOO$i; sleep 0.05; done; pwd; id -u", &CommandOptions{
			Envs: map[string]string{"FOO": "x"}, Cwd: "/tmp", User: "root",
			OnStdout: func(s string) { mu.Lock(); chunks = append(chunks, s); mu.Unlock() },
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Stdout != "x1\nx2\nx3\n/tmp\n0\n" {
			t.Fatalf("stdout %q", r.Stdout)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(chunks) < 2 || strings.Join(chunks, "") != r.Stdout {
			t.Fatalf("chunks %q", chunks)
		}
	})

	t.Run("a command past its timeout is killed and reported as a timeout", func(t *testing.T) {
		start := time.Now()
		_, err := sbx.Commands.Run(ctx, "sleep 30", &CommandOptions{Timeout: time.Second})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v", err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("took %v", time.Since(start))
		}
		// The agent may need a moment to reap it.
		var left string
		for i := 0; i < 20; i++ {
			r, err := sbx.Commands.Run(ctx, "pgrep -x sleep || true", nil)
			if err != nil {
				t.Fatal(err)
			}
			if left = strings.TrimSpace(r.Stdout); left == "" {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the timed-out process still runs: %q", left)
	})

	t.Run("background: stdin, wait, list, disconnect, reconnect, kill", func(t *testing.T) {
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
		r, err := cat.Wait(ctx)
		if err != nil || r.Stdout != "hello\n" {
			t.Fatalf("%v %+v", err, r)
		}

		sleeper, err := sbx.Commands.RunBackground(ctx, "sleep 600", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !listed(t, sbx, sleeper.PID) {
			t.Fatal("sleeper not listed")
		}
		sleeper.Disconnect()
		again, err := sbx.Commands.Connect(ctx, sleeper.PID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := again.Kill(ctx); !ok || err != nil {
			t.Fatalf("kill: %v %v", ok, err)
		}
		if _, err := again.Wait(ctx); !errors.Is(err, ErrCommandExit) {
			t.Fatalf("wait after kill: %v", err)
		}
		if listed(t, sbx, sleeper.PID) {
			t.Fatal("killed process still listed")
		}
		if ok, err := sbx.Commands.Kill(ctx, sleeper.PID); ok || err != nil {
			t.Fatalf("second kill: %v %v", ok, err)
		}
	})

	t.Run("sudo works for the default user", func(t *testing.T) {
		r, err := sbx.Commands.Run(ctx, "sudo -n id -u", nil)
		if err != nil || r.Stdout != "0\n" {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

func listed(t *testing.T, sbx *Sandbox, pid uint32) bool {
	t.Helper()
	ps, err := sbx.Commands.List(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.PID == pid {
			return true
		}
	}
	return false
}
