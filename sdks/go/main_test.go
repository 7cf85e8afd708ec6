package tensorbox

// TestMain provides the live server the integration tests run against: TENSOR_BOX_DOMAIN/TENSOR_BOX_API_KEY when
// set, otherwise a fresh server started through the repository's TypeScript test harness (real runtime, own data
// dir), which lives until its stdin closes. Without the runtime (it is still being built) the integration tests skip
// with the reason and only the pure unit tests run.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var live struct {
	opts Options
	skip string // why there is no live server
}

const harnessScript = `
import { startTestServer } from './tests/helpers/harness.ts';
const s = await startTestServer();
console.log(JSON.stringify({ url: s.url, apiKey: s.apiKey }));
process.stdin.resume();
process.stdin.on('end', async () => { await s.close(); process.exit(0); });
`

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if d := os.Getenv("TENSOR_BOX_DOMAIN"); d != "" {
		live.opts = Options{Domain: d, APIKey: os.Getenv("TENSOR_BOX_API_KEY")}
		return m.Run()
	}
	root := repoRoot()
	if reason := runtimeMissing(root); reason != "" {
		live.skip = "no live server: " + reason + " (or set TENSOR_BOX_DOMAIN and TENSOR_BOX_API_KEY)"
		return m.Run()
	}
	stop, err := startHarness(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test server:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// repoRoot is two levels above this file (sdks/go → the repository).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// runtimeMissing says what of the container runtime is not there yet ("" when it all is).
func runtimeMissing(root string) string {
	idx, err := os.ReadFile(filepath.Join(root, "packages/runtime/src/index.ts"))
	if err != nil || !strings.Contains(string(idx), "ContainerDriver") {
		return "packages/runtime/src/index.ts does not export ContainerDriver"
	}
	for _, p := range []string{"build/tb-launch", "build/envd"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return p + " is missing"
		}
	}
	return ""
}

// startHarness runs the harness and reads its one JSON line; stop closes its stdin and waits for it to clean up.
func startHarness(root string) (stop func(), err error) {
	cmd := exec.Command("node", "--import", "tsx", "--input-type=module", "-e", harnessScript)
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "{") {
				lines <- sc.Text()
				break
			}
		}
		io.Copy(io.Discard, stdout) // keep the pipe drained
		close(lines)                // the harness exited (without an address if nothing was sent)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			stop()
			return nil, fmt.Errorf("the harness exited without printing a server address (its stderr is above)")
		}
		var info struct{ URL, APIKey string }
		if err := json.Unmarshal([]byte(line), &info); err != nil {
			stop()
			return nil, fmt.Errorf("bad harness line %q: %w", line, err)
		}
		live.opts = Options{Domain: info.URL, APIKey: info.APIKey}
		return stop, nil
	case <-time.After(10 * time.Minute): // the first run may build the default template
		stop()
		return nil, fmt.Errorf("the harness printed no server address")
	}
}

// liveOptions returns the live server's options or skips the test.
func liveOptions(t *testing.T) Options {
	t.Helper()
	if live.skip != "" {
		t.Skip(live.skip)
	}
	return live.opts
}

// newTestSandbox creates a sandbox for one test and kills it when the test ends, whatever happened.
func newTestSandbox(t *testing.T, opts *CreateOptions) *Sandbox {
	t.Helper()
	o := liveOptions(t)
	if opts == nil {
		opts = &CreateOptions{}
	}
	opts.Options = o
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sbx, err := Create(ctx, "default", opts)
	if err != nil {
		t.Fatalf("create sandbox: %v", err)
	}
	t.Cleanup(func() { KillByID(context.Background(), sbx.SandboxID, &o) })
	return sbx
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
