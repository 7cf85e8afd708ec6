package tensorbox

// Integration tests of Pty against a live sandbox: the terminal has the requested size, follows Resize, and ends on
// Kill.

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

func TestLivePty(t *testing.T) {
	ctx := testCtx(t)
	sbx := newTestSandbox(t, nil)
	var mu sync.Mutex
	var out bytes.Buffer
	pty, err := sbx.Pty.Create(ctx, &PtyOptions{Cols: 120, Rows: 40, OnData: func(b []byte) {
		mu.Lock()
		out.Write(b)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !pty.IsOpen() || pty.PID == 0 {
		t.Fatalf("open %v pid %d", pty.IsOpen(), pty.PID)
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			ok := bytes.Contains(out.Bytes(), []byte(want))
			got := out.String()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q in terminal output %q", want, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The marker is printed by arithmetic so the echoed command line itself cannot match.
	if err := pty.SendInput([]byte("stty size; echo mark$((40+2))\n")); err != nil {
		t.Fatal(err)
	}
	waitFor("40 120")
	waitFor("mark42")

	if err := pty.Resize(200, 50); err != nil {
		t.Fatal(err)
	}
	if err := pty.SendInput([]byte("stty size\n")); err != nil {
		t.Fatal(err)
	}
	waitFor("50 200")

	if ok, err := pty.Kill(); !ok || err != nil {
		t.Fatalf("kill: %v %v", ok, err)
	}
	if pty.IsOpen() {
		t.Fatal("still open after Kill")
	}
	if ok, err := pty.Kill(); ok || err != nil {
		t.Fatalf("second kill: %v %v", ok, err)
	}
}
