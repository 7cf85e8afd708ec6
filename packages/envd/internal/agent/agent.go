// Package agent implements envd, the E2B-compatible agent inside a sandbox.
//
// State handed over by the control plane through POST /init (after create and after every resume): environment
// variables added to every process, the access token that guards every endpoint but /health, and the default user and
// working directory. Everything a client does runs as a user of the sandbox (HTTP Basic user on RPCs, `username` on
// /files), with that user's file permissions. The agent keeps no state on disk: a restart forgets processes and
// watchers, and the control plane calls /init again.
package agent

import (
	"encoding/json"
	"net/http"
	"os/user"
	"sync"
	"time"

	"github.com/tensor-box/tensor-box/packages/envd/gen/filesystem/filesystemconnect"
	"github.com/tensor-box/tensor-box/packages/envd/gen/process/processconnect"
	"github.com/tensor-box/tensor-box/packages/envd/internal/spec"
)

// Version is the protocol version this agent speaks (E2B envd's numbering), from spec/envd/envd.yaml.
const Version = spec.Version

// Options configure an Agent; zero values mean the in-sandbox defaults.
type Options struct {
	// DefaultUser until /init names one: "user" when it exists, else root.
	DefaultUser string
}

// Agent holds envd's state; Handler serves it.
type Agent struct {
	mu             sync.RWMutex
	envVars        map[string]string
	accessToken    string
	defaultUser    string
	defaultWorkdir string
	initAt         time.Time // timestamp of the /init applied last; older ones are ignored

	procs    *processTable
	watchers *watcherTable

	streamsMu sync.Mutex
	streams   map[*dirWatch]struct{} // live WatchDir streams (ended by /quiesce before a checkpoint)
}

// New returns an agent with no env vars, no access token and the default user from o.
func New(o Options) *Agent {
	a := &Agent{
		envVars:  map[string]string{},
		procs:    newProcessTable(),
		watchers: newWatcherTable(),
		streams:  map[*dirWatch]struct{}{},
	}
	a.defaultUser = o.DefaultUser
	if a.defaultUser == "" {
		a.defaultUser = "root"
		if _, err := user.Lookup("user"); err == nil {
			a.defaultUser = "user"
		}
	}
	return a
}

// routes is envd's whole surface, pattern to handler: spec/envd/envd.yaml's paths and the services of spec/envd's
// protos. routes_test.go checks the two are the same, so the ingress's list (generated from the spec) cannot drift.
func (a *Agent) routes() map[string]http.Handler {
	p, ph := processconnect.NewProcessHandler(&processService{a: a})
	f, fh := filesystemconnect.NewFilesystemHandler(&filesystemService{a: a})
	health := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
	return map[string]http.Handler{
		"GET /health":         http.HandlerFunc(health),
		"POST /init":          http.HandlerFunc(a.handleInit),
		"POST /quiesce":       http.HandlerFunc(a.handleQuiesce),
		"GET /envs":           a.guard(http.HandlerFunc(a.handleEnvs)),
		"GET /metrics":        a.guard(http.HandlerFunc(a.handleMetrics)),
		"GET /files":          http.HandlerFunc(a.handleDownload), // token or signature, checked inside
		"POST /files":         http.HandlerFunc(a.handleUpload),
		"POST /files/compose": a.guard(http.HandlerFunc(a.handleCompose)),
		p:                     a.guard(ph),
		f:                     a.guard(fh),
	}
}

// Handler serves envd's HTTP endpoints and Connect services (routes).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range a.routes() {
		mux.Handle(pattern, h)
	}
	return withCORS(mux)
}

// withCORS lets the e2b SDKs run in a browser: every origin may call, the token travels in a header anyway.
func withCORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", "*")
			hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "*")
			hd.Set("Access-Control-Expose-Headers", "*")
			hd.Set("Access-Control-Max-Age", "7200")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// writeError is the one error shape of envd's plain HTTP endpoints: {"code": <status>, "message": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
