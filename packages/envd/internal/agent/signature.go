package agent

// Signed /files URLs: a client holding the access token can hand out a URL that reads or writes one path as one user,
// optionally until an expiry, without giving the token away.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signature is E2B's signed-URL value: "v1_" + unpadded std base64 of sha256("<path>:<op>:<user>:<token>"), with
// ":<expiration>" (unix seconds) appended when the URL expires. op is "read" or "write"; user is the `username`
// query parameter as sent ("" for the default user).
func Signature(path, op, user, token string, expiration *int64) string {
	raw := path + ":" + op + ":" + user + ":" + token
	if expiration != nil {
		raw += ":" + strconv.FormatInt(*expiration, 10)
	}
	sum := sha256.Sum256([]byte(raw))
	return "v1_" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "=")
}

// authorizeFiles accepts a request to /files when no token is set, when X-Access-Token carries it, or when the
// `signature` query parameter signs (path, op, username) and has not expired. It writes the 401 itself, in E2B envd's
// words (the stock SDKs' tests compare the body, e.g. `{"code": 401, "message": "signature is already expired"}`).
func (a *Agent) authorizeFiles(w http.ResponseWriter, r *http.Request, op string) bool {
	token := a.token()
	if token == "" {
		return true
	}
	if r.Header.Get(tokenHeader) != "" {
		if a.tokenOK(r) {
			return true
		}
		writeError(w, http.StatusUnauthorized, "access token present in header but does not match")
		return false
	}
	q := r.URL.Query()
	sig := q.Get("signature")
	if sig == "" {
		writeError(w, http.StatusUnauthorized, "missing signature query parameter")
		return false
	}
	var exp *int64
	if v := q.Get("signature_expiration"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "signature_expiration must be a unix time in seconds")
			return false
		}
		exp = &n
	}
	want := Signature(q.Get("path"), op, q.Get("username"), token, exp)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		writeError(w, http.StatusUnauthorized, "invalid signature")
		return false
	}
	if exp != nil && *exp < time.Now().Unix() {
		writeError(w, http.StatusUnauthorized, "signature is already expired")
		return false
	}
	return true
}
