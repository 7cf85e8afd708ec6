package tensorbox

import (
	"net/url"
	"testing"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// The expected values come from the TypeScript SDK's algorithm (node:crypto sha256, base64, "=" stripped).
func TestFileSignature(t *testing.T) {
	if got := fileSignature("/home/user/a.txt", "read", "user", "tok123", 0); got !=
		"v1_HB2bgZ+RgifWQVkD4WDT8wNBFTVrggZWSRD5EqI0H/0" {
		t.Fatalf("read: %s", got)
	}
	if got := fileSignature("/home/user/a.txt", "write", "root", "tok123", 1700000000); got !=
		"v1_0KSBPc1lTrcMmrxRZRpQeytcE7kk6pykK3QDq0mtU5E" {
		t.Fatalf("write with expiry: %s", got)
	}
}

func fakeSandbox(token string) *Sandbox {
	tok := &token
	if token == "" {
		tok = nil
	}
	return newSandbox(
		&api.Sandbox{SandboxID: "sbxabc", TemplateID: "default", EnvdAccessToken: tok},
		resolveOptions(&Options{Domain: "http://127.0.0.1:3000", APIKey: "k"}),
	)
}

func TestSignedURLs(t *testing.T) {
	s := fakeSandbox("tok123")
	now := time.Unix(1699999000, 0)

	u, err := url.Parse(
		s.signedFilesURL(
			"/home/user/a.txt",
			"write",
			[]SignedURLOptions{{User: "root", Expiration: 1000 * time.Second}},
			now,
		),
	)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Host != "127.0.0.1:3000" || u.Path != "/sandboxes/sbxabc/files" {
		t.Fatalf("url %s", u)
	}
	q := u.Query()
	if q.Get("path") != "/home/user/a.txt" || q.Get("username") != "root" ||
		q.Get("signature_expiration") != "1700000000" ||
		q.Get("signature") != "v1_0KSBPc1lTrcMmrxRZRpQeytcE7kk6pykK3QDq0mtU5E" {
		t.Fatalf("query %v", q)
	}

	q = mustQuery(t, s.DownloadURL("/home/user/a.txt"))
	if q.Get("username") != "user" || q.Get("signature") != "v1_HB2bgZ+RgifWQVkD4WDT8wNBFTVrggZWSRD5EqI0H/0" ||
		q.Has("signature_expiration") {
		t.Fatalf("download query %v", q)
	}

	// Without an access token the agent checks nothing, so the URL carries no signature.
	q = mustQuery(t, fakeSandbox("").UploadURL("/tmp/x"))
	if q.Has("signature") || q.Get("path") != "/tmp/x" {
		t.Fatalf("insecure query %v", q)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
