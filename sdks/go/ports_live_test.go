package tensorbox

// Integration test of GetHost: a server started in the sandbox answers through the control plane when the request
// carries GetHost's name as its Host header.

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func TestLiveGetHost(t *testing.T) {
	o := liveOptions(t)
	ctx := testCtx(t)
	sbx := newTestSandbox(t, nil)
	if _, err := sbx.Commands.Run(ctx, "mkdir -p /tmp/www && echo served > /tmp/www/index.html", nil); err != nil {
		t.Fatal(err)
	}
	web, err := sbx.Commands.RunBackground(ctx, "cd /tmp/www && python3 -m http.server 8000", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer web.Kill(ctx)

	host := sbx.GetHost(8000)
	status, body := 0, ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		status, body = getWithHost(apiURLFromDomain(o.Domain)+"/index.html", host)
		if status == 200 && body == "served\n" {
			return
		}
	}
	t.Fatalf("GET /index.html with Host %s: %d %q", host, status, body)
}

// getWithHost fetches u with the given Host header; status 0 means the request failed.
func getWithHost(u, host string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Host = host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
