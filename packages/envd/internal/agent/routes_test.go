package agent

// envd's mux serves exactly the routes spec/envd lists (internal/spec, generated from it by npm run gen): the same
// patterns both ways, each HTTP route reaches its handler, and paths or methods the spec does not list reach none.
// The ingress's public/internal list is generated from the same spec, so the agent and the ingress cannot drift.

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/tensor-box/tensor-box/packages/envd/internal/spec"
)

func TestRoutesAreTheSpecs(t *testing.T) {
	a := New(Options{DefaultUser: "root"})
	want := map[string]bool{}
	for _, r := range spec.HTTPRoutes {
		want[r.Method+" "+r.Path] = true
	}
	for _, s := range spec.RPCServices {
		want["/"+s+"/"] = true
	}
	got := map[string]bool{}
	for pattern := range a.routes() {
		got[pattern] = true
	}
	if missing, extra := diff(want, got), diff(got, want); len(missing)+len(extra) > 0 {
		t.Fatalf("envd's mux and spec/envd differ:\n  in the spec, not served: %v\n  served, not in the spec: %v",
			missing, extra)
	}
}

// fromMux tells the mux's own answers (no route matched) from a handler's (envd's handlers answer JSON).
func fromMux(rec *httptest.ResponseRecorder) bool {
	body := rec.Body.String()
	return (rec.Code == http.StatusNotFound && body == "404 page not found\n") ||
		(rec.Code == http.StatusMethodNotAllowed && strings.HasPrefix(body, "Method Not Allowed"))
}

func TestMuxServesTheSpecsRoutesOnly(t *testing.T) {
	h := New(Options{DefaultUser: "root"}).Handler()
	serve := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader("{}")))
		return rec
	}
	for _, r := range spec.HTTPRoutes {
		if rec := serve(r.Method, r.Path); fromMux(rec) {
			t.Errorf("%s %s: no handler (%d %q)", r.Method, r.Path, rec.Code, rec.Body.String())
		}
	}
	// What E2B's envd has and ours does not, other methods of listed paths, and look-alikes.
	for _, p := range []string{"GET /init", "GET /quiesce", "POST /health", "DELETE /files", "POST /freeze",
		"POST /unfreeze", "POST /upgrade", "GET /files/compose", "GET /init/", "GET /nope"} {
		method, path, _ := strings.Cut(p, " ")
		if rec := serve(method, path); !fromMux(rec) {
			t.Errorf("%s: answered %d by a handler, but spec/envd does not list it", p, rec.Code)
		}
	}
}

func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
