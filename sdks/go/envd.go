package tensorbox

// How the SDK reaches a sandbox's agent (envd): through the control plane's ingress at the API URL, routed by the
// E2b-Sandbox-Id / E2b-Sandbox-Port headers (so no wildcard DNS is needed), with the sandbox's access token and the
// acting user (HTTP Basic with an empty password, as E2B's agent expects).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/filesystem/filesystemconnect"
	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/process/processconnect"
)

// envdPort is in envd_port.gen.go (generated from spec/envd/envd.yaml).
const (
	// DefaultUser is the user commands run as and files belong to unless an option says otherwise.
	DefaultUser = "user"
	// keepalivePing asks the agent for keepalive events on long streams so idle proxies do not cut them.
	keepalivePing = "50"
)

// envdTarget is one sandbox's agent as seen through the server; shared by Files, Commands and Pty.
type envdTarget struct {
	conn      *conn
	sandboxID string

	mu          sync.RWMutex
	accessToken string // may change when a paused sandbox resumes

	process    processconnect.ProcessClient
	filesystem filesystemconnect.FilesystemClient
}

func newEnvdTarget(c *conn, sandboxID, accessToken string) *envdTarget {
	t := &envdTarget{conn: c, sandboxID: sandboxID, accessToken: accessToken}
	hc := *c.http
	hc.Transport = &ingressErrors{base: c.http.Transport}
	// JSON keeps the wire readable in proxies' logs; the agent serves both codecs.
	t.process = processconnect.NewProcessClient(&hc, c.apiURL, connect.WithProtoJSON())
	t.filesystem = filesystemconnect.NewFilesystemClient(&hc, c.apiURL, connect.WithProtoJSON())
	return t
}

// ingressErrors turns the control plane's own error answers on agent RPCs (sandbox not found, agent unreachable:
// a non-2xx status with a `{code: <int>, message}` body) into SDK errors. Without it connect-go would read only the
// status — and on streams map 404 to Unimplemented. Connect errors from the agent itself (a string code) pass
// through untouched to fromConnect.
type ingressErrors struct{ base http.RoundTripper }

func (t *ingressErrors) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil || res.StatusCode < 300 {
		return res, err
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	var body struct {
		Code json.RawMessage `json:"code"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Code) > 0 && body.Code[0] != '"' {
		res.Body = io.NopCloser(bytes.NewReader(raw))
		return nil, fromHTTP(res, "sandbox agent "+req.URL.Path)
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	return res, nil
}

func (t *envdTarget) token() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.accessToken
}

func (t *envdTarget) setToken(tok string) {
	t.mu.Lock()
	t.accessToken = tok
	t.mu.Unlock()
}

// setHeaders puts the routing, auth and (when user is set) user headers on h.
func (t *envdTarget) setHeaders(h http.Header, user string) {
	for k, v := range t.conn.headers {
		h.Set(k, v)
	}
	h.Set("E2b-Sandbox-Id", t.sandboxID)
	h.Set("E2b-Sandbox-Port", strconv.Itoa(envdPort))
	if tok := t.token(); tok != "" {
		h.Set("X-Access-Token", tok)
	}
	if user != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":")))
	}
}

// rpcRequest wraps msg in a Connect request carrying the sandbox's headers, acting as user (DefaultUser when empty).
func rpcRequest[T any](t *envdTarget, msg *T, user string) *connect.Request[T] {
	req := connect.NewRequest(msg)
	t.setHeaders(req.Header(), orDefaultUser(user))
	return req
}

// streamRequest is rpcRequest for server streams, which also ask for keepalives.
func streamRequest[T any](t *envdTarget, msg *T, user string) *connect.Request[T] {
	req := rpcRequest(t, msg, user)
	req.Header().Set("Keepalive-Ping-Interval", keepalivePing)
	return req
}

func orDefaultUser(user string) string {
	if user == "" {
		return DefaultUser
	}
	return user
}
