package main

// The binary itself: flags, the ready fd, and both HTTP/1.1 and h2c on one port.

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBinaryReadyFdAndProtocols(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "envd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--port", "0", "--listen-addr", "127.0.0.1", "--ready-fd", "3")
	cmd.ExtraFiles = []*os.File{readyW}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	readyW.Close()

	done := make(chan string, 1)
	go func() { b, _ := io.ReadAll(readyR); done <- string(b) }()
	select {
	case got := <-done:
		if got != "ready\n" {
			t.Fatalf("ready fd got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ready signal")
	}

	line, err := bufio.NewReader(stderr).ReadString('\n')
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		t.Fatalf("stderr: %q %v", line, err)
	}
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	for name, client := range map[string]*http.Client{
		"HTTP/1.1": http.DefaultClient,
		"HTTP/2.0": {Transport: &http.Transport{Protocols: h2c}},
	} {
		res, err := client.Get("http://" + addr + "/health")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.Proto != name {
			t.Fatalf("%s: %d over %s", name, res.StatusCode, res.Proto)
		}
	}
}
