package tensorbox

// Wire-shape tests of the REST layer against a recording httptest server: what Create, List and KillByID put on the
// wire, and how answers come back. The live server's behaviour is covered by the integration tests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type recorded struct {
	method, path, query, apiKey string
	body                        map[string]any
}

func recordingServer(
	t *testing.T,
	handler func(w http.ResponseWriter, r *http.Request),
) (*httptest.Server, func() []recorded) {
	var mu sync.Mutex
	var reqs []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		reqs = append(reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-API-Key"), body})
		mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), reqs...)
	}
}

func TestCreateRequestShape(t *testing.T) {
	srv, reqs := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		w.Write(
			[]byte(`{"sandboxID":"sbxnew","templateID":"default","clientID":"x","envdVersion":"0.1.0","envdAccessToken":"tok"}`),
		)
	})
	yes := true
	sbx, err := Create(context.Background(), "default", &CreateOptions{
		Options: Options{Domain: srv.URL, APIKey: "e2b_test"}, Timeout: 90 * time.Second,
		Envs: map[string]string{"A": "b"}, Metadata: map[string]string{"k": "v"},
		Lifecycle: &LifecycleConfig{OnTimeout: "pause", AutoResume: &yes},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sbx.SandboxID != "sbxnew" || sbx.envd.token() != "tok" {
		t.Fatalf("sandbox %+v", sbx)
	}
	r := reqs()[0]
	if r.method != "POST" || r.path != "/sandboxes" || r.apiKey != "e2b_test" {
		t.Fatalf("request %+v", r)
	}
	want := map[string]any{
		"templateID": "default", "timeout": 90.0, "secure": true, "allow_internet_access": true, "autoPause": true,
		"autoResume": map[string]any{
			"enabled": true,
		}, "envVars": map[string]any{"A": "b"}, "metadata": map[string]any{"k": "v"},
	}
	for k, v := range want {
		got, _ := json.Marshal(r.body[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("body.%s = %s, want %s", k, got, exp)
		}
	}

	_, err = Create(
		context.Background(),
		"default",
		&CreateOptions{Options: Options{Domain: srv.URL}, Lifecycle: &LifecycleConfig{OnTimeout: "sleep"}},
	)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad OnTimeout: %v", err)
	}
}

func TestListFollowsPages(t *testing.T) {
	srv, reqs := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		item := `{"sandboxID":"%s","templateID":"default","clientID":"x","envdVersion":"1",` +
			`"startedAt":"2025-01-01T00:00:00Z","endAt":"2025-01-01T01:00:00Z","cpuCount":2,"memoryMB":2048,"diskSizeMB":1,` +
			`"state":"running","metadata":{"k":"v"}}`
		if r.URL.Query().Get("nextToken") == "" {
			w.Header().Set("X-Next-Token", "page2")
			w.Write([]byte("[" + fmt.Sprintf(item, "a") + "]"))
			return
		}
		w.Write([]byte("[" + fmt.Sprintf(item, "b") + "]"))
	})
	infos, err := List(
		context.Background(),
		&ListOptions{
			Options:  Options{Domain: srv.URL},
			State:    []string{"running", "paused"},
			Metadata: map[string]string{"k": "v"},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].SandboxID != "a" || infos[1].SandboxID != "b" || infos[1].Metadata["k"] != "v" ||
		infos[0].CPUCount != 2 {
		t.Fatalf("infos %+v", infos)
	}
	rs := reqs()
	if rs[0].path != "/v2/sandboxes" || rs[0].query != "metadata=k%3Dv&state=running%2Cpaused" {
		t.Fatalf("first query %q", rs[0].query)
	}
	if rs[1].query != "metadata=k%3Dv&nextToken=page2&state=running%2Cpaused" {
		t.Fatalf("second query %q", rs[1].query)
	}
}

func TestKillByIDAndErrors(t *testing.T) {
	srv, _ := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sandboxes/gone":
			w.WriteHeader(404)
			w.Write([]byte(`{"code":404,"message":"sandbox gone not found"}`))
		case "/sandboxes/here":
			w.WriteHeader(204)
		default:
			w.WriteHeader(401)
			w.Write([]byte(`{"code":401,"message":"bad key"}`))
		}
	})
	o := &Options{Domain: srv.URL}
	if ok, err := KillByID(context.Background(), "gone", o); ok || err != nil {
		t.Fatalf("gone: %v %v", ok, err)
	}
	if ok, err := KillByID(context.Background(), "here", o); !ok || err != nil {
		t.Fatalf("here: %v %v", ok, err)
	}
	_, err := GetInfoByID(context.Background(), "other", o)
	var se *SandboxError
	if !errors.Is(err, ErrAuthentication) || !errors.As(err, &se) || se.Status != 401 ||
		se.Message != "sandbox other: bad key" {
		t.Fatalf("auth error: %#v", err)
	}
}

func TestRequestTimeout(t *testing.T) {
	srv, _ := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	_, err := GetInfoByID(context.Background(), "slow", &Options{Domain: srv.URL, RequestTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v", err)
	}
}
