package tensorbox

// How the SDK reaches a sandbox's agent (envd): through the control plane's ingress at the API URL, routed by the
// E2b-Sandbox-Id / E2b-Sandbox-Port headers (so no wildcard DNS is needed), with the sandbox's access token and the
// acting user (HTTP Basic with an empty password, as E2B's agent expects).

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/filesystem/filesystemconnect"
	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/process/processconnect"
)

const (
	envdPort = 49983
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
	// JSON keeps the wire readable in proxies' logs; the agent serves both codecs.
	t.process = processconnect.NewProcessClient(c.http, c.apiURL, connect.WithProtoJSON())
	t.filesystem = filesystemconnect.NewFilesystemClient(c.http, c.apiURL, connect.WithProtoJSON())
	return t
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
