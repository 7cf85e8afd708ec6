package tensorbox

import (
	"testing"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

func TestAPIURLFromDomain(t *testing.T) {
	cases := map[string]string{
		"http://127.0.0.1:3000/":  "http://127.0.0.1:3000",
		"https://app.tos.run":     "https://app.tos.run",
		"app.tos.run":             "https://app.tos.run",
		"localhost:3000":          "http://localhost:3000",
		"127.0.0.1:3000":          "http://127.0.0.1:3000",
		"10.1.2.3":                "http://10.1.2.3",
		"[::1]:3000":              "http://[::1]:3000",
		"sandbox.example.com:443": "https://sandbox.example.com:443",
	}
	for in, want := range cases {
		if got := apiURLFromDomain(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestResolveOptionsEnv(t *testing.T) {
	t.Setenv("TENSOR_BOX_DOMAIN", "box.example.com")
	t.Setenv("TENSOR_BOX_API_KEY", "e2b_env")
	c := resolveOptions(nil)
	if c.apiURL != "https://box.example.com" || c.apiKey != "e2b_env" || c.requestTimeout != 60*time.Second {
		t.Fatalf("%+v", c)
	}
	c = resolveOptions(&Options{Domain: "http://127.0.0.1:1", APIKey: "e2b_opt", RequestTimeout: time.Second})
	if c.apiURL != "http://127.0.0.1:1" || c.apiKey != "e2b_opt" || c.requestTimeout != time.Second {
		t.Fatalf("explicit options must win: %+v", c)
	}
}

func TestGetHost(t *testing.T) {
	s := fakeSandbox("")
	if got := s.GetHost(8000); got != "sbxabc-8000.127.0.0.1:3000" {
		t.Fatalf("got %q", got)
	}
	dom := "box.example.com"
	s = newSandbox(
		&api.Sandbox{SandboxID: "sbxabc", Domain: &dom},
		resolveOptions(&Options{Domain: "https://api.example.com"}),
	)
	if got := s.GetHost(3000); got != "sbxabc-3000.box.example.com" {
		t.Fatalf("with the server's domain: got %q", got)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int32{0: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2,
		time.Minute: 60} {
		if got := seconds(d); got != want {
			t.Errorf("%v: got %d, want %d", d, got, want)
		}
	}
}

func TestEncodeMetadata(t *testing.T) {
	if got := encodeMetadata(map[string]string{"b": "2 3", "a": "1&"}); got != "a=1%26&b=2+3" {
		t.Fatalf("got %q", got)
	}
}
