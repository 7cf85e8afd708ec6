package tensorbox

// Signed file URLs: a URL that downloads or uploads one file without the API key, for browsers, curl or third
// parties. The signature is "v1_" + unpadded
// base64(sha256("<path>:<read|write>:<user>:<accessToken>[:<expiresUnix>]")), the format E2B's agent verifies; without
// an access token (an insecure sandbox) no signature is needed.

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignedURLOptions configures DownloadURL and UploadURL.
type SignedURLOptions struct {
	// User whose permissions the transfer uses (default "user").
	User string
	// Expiration makes the URL stop working after this long (default: it never expires).
	Expiration time.Duration
}

// fileSignature computes the signature of one file operation ("read" or "write"); expiresUnix 0 means none.
func fileSignature(path, operation, user, accessToken string, expiresUnix int64) string {
	raw := path + ":" + operation + ":" + user + ":" + accessToken
	if expiresUnix != 0 {
		raw += ":" + strconv.FormatInt(expiresUnix, 10)
	}
	sum := sha256.Sum256([]byte(raw))
	return "v1_" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "=")
}

func (s *Sandbox) signedFilesURL(path, operation string, opts []SignedURLOptions, now time.Time) string {
	var o SignedURLOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	user := orDefaultUser(o.User)
	q := url.Values{}
	q.Set("path", path)
	q.Set("username", user)
	if tok := s.envd.token(); tok != "" {
		var exp int64
		if o.Expiration > 0 {
			exp = now.Add(o.Expiration).Unix()
			q.Set("signature_expiration", strconv.FormatInt(exp, 10))
		}
		q.Set("signature", fileSignature(path, operation, user, tok, exp))
	}
	return s.conn.apiURL + "/sandboxes/" + url.PathEscape(s.SandboxID) + "/files?" + q.Encode()
}

// DownloadURL returns a URL from which the file at path downloads with a plain GET.
//
//	u := sbx.DownloadURL("/home/user/output.zip", tensorbox.SignedURLOptions{Expiration: 10 * time.Minute})
func (s *Sandbox) DownloadURL(path string, opts ...SignedURLOptions) string {
	return s.signedFilesURL(path, "read", opts, time.Now())
}

// UploadURL returns a URL to which a file uploads to path with a POST (a raw body or multipart "file" parts).
func (s *Sandbox) UploadURL(path string, opts ...SignedURLOptions) string {
	return s.signedFilesURL(path, "write", opts, time.Now())
}
