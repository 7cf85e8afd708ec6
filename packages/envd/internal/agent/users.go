package agent

// Users of the sandbox: who a request acts as, where its relative paths point, and the environment its processes get.
// Accounts come from the sandbox's own /etc/passwd and /etc/group (os/user without cgo reads exactly those).

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"connectrpc.com/connect"
)

// defaultPath is PATH for every process unless /init or the request sets another.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// sandboxUser is a resolved account of the sandbox.
type sandboxUser struct {
	Name   string
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups, including the primary one
	Home   string
	Shell  string
}

func lookupUser(name string) (*sandboxUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("invalid username: '%s'", name) // E2B envd's words (the stock SDKs' tests match them)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user '%s' has a non-numeric uid or gid", name)
	}
	su := &sandboxUser{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir, Shell: "/bin/sh"}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				su.Groups = append(su.Groups, uint32(n))
			}
		}
	}
	if len(su.Groups) == 0 {
		su.Groups = []uint32{su.GID}
	}
	if su.Home == "" {
		su.Home = "/"
	}
	if sh := loginShell(name); sh != "" {
		su.Shell = sh
	}
	return su, nil
}

// loginShell is the 7th field of the user's /etc/passwd line (os/user does not expose it).
func loginShell(name string) string {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[0] == name {
			return fields[6]
		}
	}
	return ""
}

// userFromHeader resolves an RPC's user: `Authorization: Basic base64("<user>:")`, or the default user.
func (a *Agent) userFromHeader(h http.Header) (*sandboxUser, error) {
	name := ""
	if auth := h.Get("Authorization"); auth != "" {
		scheme, cred, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return nil, connect.NewError(
				connect.CodeUnauthenticated,
				errors.New("the Authorization header must be Basic base64(\"<user>:\")"),
			)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return nil, connect.NewError(
				connect.CodeUnauthenticated,
				errors.New("malformed Basic credentials in the Authorization header"),
			)
		}
		name, _, _ = strings.Cut(string(raw), ":")
	}
	u, err := a.resolveUser(name)
	if err != nil {
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
	}
	return u, nil
}

// resolveUser looks name up; "" means the default user.
func (a *Agent) resolveUser(name string) (*sandboxUser, error) {
	if name == "" {
		a.mu.RLock()
		name = a.defaultUser
		a.mu.RUnlock()
	}
	return lookupUser(name)
}

// resolvePath makes a client path absolute: "" is the default workdir (else the home), "~" and "~/x" are in the home,
// other relative paths are relative to the home.
func (a *Agent) resolvePath(u *sandboxUser, p string) string {
	switch {
	case p == "":
		return a.workdir(u)
	case p == "~":
		return u.Home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(u.Home, p[2:])
	case !filepath.IsAbs(p):
		return filepath.Join(u.Home, p)
	}
	return filepath.Clean(p)
}

// workdir is where a process starts when the request names no cwd: /init's default workdir if it exists, else home.
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

// processEnv is a process's environment: the user's basics, then /init's env vars, then the request's.
func (a *Agent) processEnv(u *sandboxUser, request map[string]string, extra map[string]string) []string {
	env := map[string]string{
		"PATH":    defaultPath,
		"HOME":    u.Home,
		"USER":    u.Name,
		"LOGNAME": u.Name,
		"SHELL":   u.Shell,
		"LANG":    "C.UTF-8",
		// Go ≥ 1.24 listens with multipath TCP by default, which CRIU cannot checkpoint: a Go server in the sandbox
		// would make pause fail. Plain TCP unless the user's own env vars say otherwise.
		"GODEBUG": "multipathtcp=0",
	}
	a.mu.RLock()
	for k, v := range a.envVars {
		env[k] = v
	}
	a.mu.RUnlock()
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range request {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
