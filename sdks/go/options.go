package tensorbox

// Connection options shared by every call: where the server is, how to authenticate, and how long a control-plane
// request may take. Resolved once per call site into a conn, which is what the rest of the package uses.

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"
)

const (
	defaultDomain         = "http://127.0.0.1:3000"
	defaultRequestTimeout = 60 * time.Second
)

// Options says which server to talk to and how. The zero value reads the environment.
type Options struct {
	// Domain is the control-plane URL, e.g. "https://app.tos.run" or "http://127.0.0.1:3000". A bare host gets
	// http:// when it is local and https:// otherwise. Default: env TENSOR_BOX_DOMAIN, else http://127.0.0.1:3000.
	Domain string
	// APIKey is sent as X-API-Key. Default: env TENSOR_BOX_API_KEY.
	APIKey string
	// RequestTimeout bounds each control-plane request (default 60 s; negative = none). Agent calls are bounded by
	// their own timeouts and the caller's context instead.
	RequestTimeout time.Duration
	// Headers are extra headers sent with every request.
	Headers map[string]string
	// HTTPClient carries every request (default: a shared client without a global timeout, since agent streams are
	// long-lived).
	HTTPClient *http.Client
}

// conn is Options with the defaults applied.
type conn struct {
	apiURL         string
	apiKey         string
	requestTimeout time.Duration
	headers        map[string]string
	http           *http.Client
}

var sharedHTTPClient = &http.Client{}

func resolveOptions(o *Options) *conn {
	if o == nil {
		o = &Options{}
	}
	domain := firstNonEmpty(o.Domain, os.Getenv("TENSOR_BOX_DOMAIN"), defaultDomain)
	c := &conn{
		apiURL:         apiURLFromDomain(domain),
		apiKey:         firstNonEmpty(o.APIKey, os.Getenv("TENSOR_BOX_API_KEY")),
		requestTimeout: o.RequestTimeout,
		headers:        o.Headers,
		http:           o.HTTPClient,
	}
	if c.requestTimeout == 0 {
		c.requestTimeout = defaultRequestTimeout
	}
	if c.http == nil {
		c.http = sharedHTTPClient
	}
	return c
}

// options turns a resolved connection back into Options, so that a sandbox's by-ID calls reuse its connection.
func (c *conn) options() *Options {
	return &Options{
		Domain:         c.apiURL,
		APIKey:         c.apiKey,
		RequestTimeout: c.requestTimeout,
		Headers:        c.headers,
		HTTPClient:     c.http,
	}
}

var (
	schemeRe    = regexp.MustCompile(`^https?://`)
	localHost   = regexp.MustCompile(`^(localhost|127\.|\[::1\]|0\.0\.0\.0)`)
	ipv4AndPort = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+(:\d+)?$`)
)

// apiURLFromDomain turns a domain (URL or bare host) into the API base URL without a trailing slash.
func apiURLFromDomain(domain string) string {
	d := strings.TrimRight(domain, "/")
	if schemeRe.MatchString(d) {
		return d
	}
	if localHost.MatchString(d) || ipv4AndPort.MatchString(d) {
		return "http://" + d
	}
	return "https://" + d
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
