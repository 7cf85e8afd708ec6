package agent

// The control plane's hand-over (POST /init), the access token check, and GET /envs.

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"time"
)

const tokenHeader = "X-Access-Token"

func (a *Agent) token() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.accessToken
}

// tokenOK: no token is set, or the request carries it.
func (a *Agent) tokenOK(r *http.Request) bool {
	t := a.token()
	return t == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get(tokenHeader)), []byte(t)) == 1
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
	DefaultWorkdir *string           `json:"defaultWorkdir"`
	Timestamp      *time.Time        `json:"timestamp"`
}

// handleInit takes the control plane's hand-over. It is accepted while no token is set, or with the current token in
// X-Access-Token; so a token can be set once and re-sent (after resume), but not changed. Fields left out keep their
// value; envVars, when present, replace the previous set. An /init older than the one applied last is acknowledged
// and ignored (a retried request must not undo a newer one). Its timestamp also sets a clock that is off (clock.go).
func (a *Agent) handleInit(w http.ResponseWriter, r *http.Request) {
	if !a.tokenOK(r) {
		writeError(w, http.StatusUnauthorized, "missing or invalid X-Access-Token")
		return
	}
	var req initRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if req.DefaultUser != "" {
		if _, err := lookupUser(req.DefaultUser); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if req.Timestamp != nil {
		if req.Timestamp.Before(a.initAt) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		a.initAt = *req.Timestamp
		syncClock(*req.Timestamp)
	}
	if req.EnvVars != nil {
		a.envVars = maps.Clone(req.EnvVars)
	}
	if req.AccessToken != nil {
		a.accessToken = *req.AccessToken
	}
	if req.DefaultUser != "" {
		a.defaultUser = req.DefaultUser
	}
	if req.DefaultWorkdir != nil {
		a.defaultWorkdir = *req.DefaultWorkdir
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Agent) handleEnvs(w http.ResponseWriter, r *http.Request) {
	a.mu.RLock()
	out := maps.Clone(a.envVars)
	a.mu.RUnlock()
	writeJSON(w, out)
}
