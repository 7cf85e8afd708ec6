// Package agent implements envd: the E2B-compatible agent inside a sandbox.
//
// State handed over by the control plane through POST /init (after create and after every resume): environment
// variables added to every process, the access token that guards every endpoint but /health, and the default user and
// working directory. Everything a client does runs as a user of the sandbox (HTTP Basic user on RPCs, `username` on
// /files), with that user's file permissions.
package agent

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/packages/envd/gen/filesystem/filesystemconnect"
	"github.com/tensor-box/tensor-box/packages/envd/gen/process/processconnect"
)

// Version is what /health and the control plane report.
const Version = "0.5.7"

// Options configure an Agent; zero values mean the in-sandbox defaults.
type Options struct {
	// DefaultUser when /init names none: "user" when it exists, else root.
	DefaultUser string
}

// Agent holds envd's state; Handler serves it.
type Agent struct {
	mu             sync.RWMutex
	envVars        map[string]string
	accessToken    string
	defaultUser    string
	defaultWorkdir string

	procs    *processTable
	watchers *watcherTable
}

func New(o Options) *Agent {
	a := &Agent{envVars: map[string]string{}, procs: newProcessTable(), watchers: newWatcherTable()}
	a.defaultUser = o.DefaultUser
	if a.defaultUser == "" {
		if _, err := user.Lookup("user"); err == nil {
			a.defaultUser = "user"
		} else {
			a.defaultUser = "root"
		}
	}
	return a
}

// Handler serves envd's HTTP endpoints and Connect services.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /init", a.handleInit)
	mux.Handle("GET /envs", a.guard(http.HandlerFunc(a.handleEnvs)))
	mux.Handle("GET /metrics", a.guard(http.HandlerFunc(a.handleMetrics)))
	mux.HandleFunc("GET /files", a.handleDownload)
	mux.HandleFunc("POST /files", a.handleUpload)
	p, ph := processconnect.NewProcessHandler(&processService{a: a})
	mux.Handle(p, a.guard(ph))
	f, fh := filesystemconnect.NewFilesystemHandler(&filesystemService{a: a})
	mux.Handle(f, a.guard(fh))
	return mux
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "message": msg})
}

func (a *Agent) token() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.accessToken
}

func (a *Agent) tokenOK(r *http.Request) bool {
	t := a.token()
	return t == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Access-Token")), []byte(t)) == 1
}

// guard refuses requests without the access token (when one is set).
func (a *Agent) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.tokenOK(r) {
			writeError(w, http.StatusUnauthorized, "missing or invalid X-Access-Token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type initRequest struct {
	EnvVars        map[string]string `json:"envVars"`
	AccessToken    *string           `json:"accessToken"`
	DefaultUser    string            `json:"defaultUser"`
	DefaultWorkdir string            `json:"defaultWorkdir"`
}

// handleInit takes the control plane's hand-over. Once a token is set, only a request carrying it may change anything.
func (a *Agent) handleInit(w http.ResponseWriter, r *http.Request) {
	if !a.tokenOK(r) {
		writeError(w, http.StatusUnauthorized, "missing or invalid X-Access-Token")
		return
	}
	var req initRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
			return
		}
	}
	if req.DefaultUser != "" {
		if _, err := lookupUser(req.DefaultUser); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if req.EnvVars != nil {
		a.envVars = req.EnvVars
	}
	if req.AccessToken != nil {
		a.accessToken = *req.AccessToken
	}
	if req.DefaultUser != "" {
		a.defaultUser = req.DefaultUser
	}
	if req.DefaultWorkdir != "" {
		a.defaultWorkdir = req.DefaultWorkdir
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Agent) handleEnvs(w http.ResponseWriter, r *http.Request) {
	a.mu.RLock()
	out := make(map[string]string, len(a.envVars))
	for k, v := range a.envVars {
		out[k] = v
	}
	a.mu.RUnlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// sandboxUser is a resolved account of the sandbox.
type sandboxUser struct {
	Name   string
	UID    uint32
	GID    uint32
	Groups []uint32
	Home   string
	Shell  string
}

func lookupUser(name string) (*sandboxUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user '%s' does not exist in the sandbox", name)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	su := &sandboxUser{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir, Shell: "/bin/sh"}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				su.Groups = append(su.Groups, uint32(n))
			}
		}
	}
	if su.Home == "" {
		su.Home = "/"
	}
	if sh := shellOf(name); sh != "" {
		su.Shell = sh
	}
	return su, nil
}

func shellOf(name string) string {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == name {
			return f[6]
		}
	}
	return ""
}

// userFromBasic resolves the RPC's user: `Authorization: Basic base64("<user>:")`, or the default user.
func (a *Agent) userFromHeader(h http.Header) (*sandboxUser, error) {
	name := ""
	if auth := h.Get("Authorization"); strings.HasPrefix(auth, "Basic ") {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("malformed Authorization header"))
		}
		name, _, _ = strings.Cut(string(raw), ":")
	}
	return a.resolveUser(name)
}

func (a *Agent) resolveUser(name string) (*sandboxUser, error) {
	if name == "" {
		a.mu.RLock()
		name = a.defaultUser
		a.mu.RUnlock()
	}
	u, err := lookupUser(name)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return u, nil
}

// resolvePath makes a client path absolute: relative paths are relative to the user's home; "~" is the home.
func resolvePath(u *sandboxUser, p string) string {
	if p == "~" {
		return u.Home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(u.Home, p[2:])
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(u.Home, p)
	}
	return filepath.Clean(p)
}

func (a *Agent) workdir(u *sandboxUser) string {
	a.mu.RLock()
	wd := a.defaultWorkdir
	a.mu.RUnlock()
	if wd != "" {
		if st, err := os.Stat(wd); err == nil && st.IsDir() {
			return wd
		}
	}
	return u.Home
}

func (a *Agent) baseEnv(u *sandboxUser) []string {
	env := map[string]string{
		"PATH":    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME":    u.Home,
		"USER":    u.Name,
		"LOGNAME": u.Name,
		"SHELL":   u.Shell,
		"LANG":    "C.UTF-8",
	}
	a.mu.RLock()
	for k, v := range a.envVars {
		env[k] = v
	}
	a.mu.RUnlock()
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
