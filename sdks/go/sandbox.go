package tensorbox

// Sandbox: create one from a template or connect to one by ID; each instance composes Files, Commands and Pty and
// forwards its lifecycle calls to the by-ID functions in sandbox_byid.go.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// DefaultSandboxTimeout is the inactivity timeout used when an option leaves it at zero.
const DefaultSandboxTimeout = 300 * time.Second

// LifecycleConfig says what happens when a sandbox's inactivity timeout passes.
type LifecycleConfig struct {
	// OnTimeout is "kill" (default) or "pause".
	OnTimeout string
	// AutoResume, with OnTimeout "pause", wakes the sandbox on the next request that reaches it.
	AutoResume *bool
}

// CreateOptions configures Create. A nil *CreateOptions means all defaults.
type CreateOptions struct {
	Options
	// Timeout is the inactivity timeout (default 300 s), sent in whole seconds.
	Timeout time.Duration
	// Envs are environment variables every command in the sandbox sees.
	Envs map[string]string
	// Metadata is free-form and can filter List.
	Metadata  map[string]string
	Lifecycle *LifecycleConfig
	// Secure makes the agent require the sandbox's access token on every call (default true).
	Secure *bool
	// AllowInternetAccess lets the sandbox reach the internet (default true).
	AllowInternetAccess *bool
	// Network holds E2B's network settings (nil: public traffic, no outbound rules).
	Network *NetworkOptions
	// VolumeMounts mounts volumes of the caller's team read-write: sandbox path → volume name.
	VolumeMounts map[string]string
}

// NetworkOptions are a sandbox's inbound and outbound traffic settings.
type NetworkOptions struct {
	// AllowPublicTraffic false: the sandbox's ports need Sandbox.TrafficAccessToken in the e2b-traffic-access-token
	// header (default true).
	AllowPublicTraffic *bool
	// MaskRequestHost is the Host header the sandbox's servers see; ${PORT} is replaced by the port.
	MaskRequestHost string
	// AllowOut and DenyOut are outbound rules: IP addresses, CIDRs (and host names in AllowOut); allow wins over deny.
	AllowOut []string
	DenyOut  []string
}

// ConnectOptions configures Connect.
type ConnectOptions struct {
	Options
	// Timeout to set from now; it only ever extends the current one (default 300 s).
	Timeout time.Duration
}

// Sandbox is a handle on one sandbox. It holds no open connection between calls, so it is cheap to keep or drop.
type Sandbox struct {
	SandboxID  string
	TemplateID string
	// Domain is the domain of the sandbox's host names (see GetHost).
	Domain string

	// TrafficAccessToken opens the sandbox's ports when it does not allow public traffic (else empty).
	TrafficAccessToken string

	Files    *Files
	Commands *Commands
	Pty      *Pty

	conn *conn
	envd *envdTarget
}

func newSandbox(data *api.Sandbox, c *conn) *Sandbox {
	token := ""
	if data.EnvdAccessToken != nil {
		token = *data.EnvdAccessToken
	}
	domain := ""
	if data.Domain != nil {
		domain = *data.Domain
	}
	if domain == "" {
		if u, err := url.Parse(c.apiURL); err == nil {
			domain = u.Host
		}
	}
	t := newEnvdTarget(c, data.SandboxID, token)
	traffic := ""
	if data.TrafficAccessToken != nil {
		traffic = *data.TrafficAccessToken
	}
	return &Sandbox{
		SandboxID: data.SandboxID, TemplateID: data.TemplateID, Domain: domain, TrafficAccessToken: traffic,
		Files: &Files{t: t}, Commands: &Commands{t: t}, Pty: &Pty{t: t},
		conn: c, envd: t,
	}
}

// Create starts a sandbox from template (an ID or name; "" means "default").
//
//	sbx, err := tensorbox.Create(ctx, "default", &tensorbox.CreateOptions{Timeout: time.Minute})
func Create(ctx context.Context, template string, opts *CreateOptions) (*Sandbox, error) {
	if opts == nil {
		opts = &CreateOptions{}
	}
	if template == "" {
		template = "default"
	}
	if opts.Timeout < 0 {
		return nil, newError(KindInvalidArgument, "create sandbox: Timeout must not be negative")
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultSandboxTimeout
	}
	c := resolveOptions(&opts.Options)
	body := api.NewSandbox{
		TemplateID:          template,
		Timeout:             ptr(seconds(timeout)),
		Secure:              ptr(boolOr(opts.Secure, true)),
		AllowInternetAccess: ptr(boolOr(opts.AllowInternetAccess, true)),
	}
	if opts.Envs != nil {
		body.EnvVars = ptr(api.EnvVars(opts.Envs))
	}
	if opts.Metadata != nil {
		body.Metadata = ptr(api.SandboxMetadata(opts.Metadata))
	}
	if n := opts.Network; n != nil {
		cfg := api.SandboxNetworkConfig{AllowPublicTraffic: n.AllowPublicTraffic}
		if n.MaskRequestHost != "" {
			cfg.MaskRequestHost = ptr(n.MaskRequestHost)
		}
		if n.AllowOut != nil {
			cfg.AllowOut = ptr(n.AllowOut)
		}
		if n.DenyOut != nil {
			cfg.DenyOut = ptr(n.DenyOut)
		}
		body.Network = &cfg
	}
	if len(opts.VolumeMounts) > 0 {
		mounts := make([]api.SandboxVolumeMount, 0, len(opts.VolumeMounts))
		for path, name := range opts.VolumeMounts {
			mounts = append(mounts, api.SandboxVolumeMount{Name: name, Path: path})
		}
		body.VolumeMounts = &mounts
	}
	if lc := opts.Lifecycle; lc != nil {
		switch lc.OnTimeout {
		case "", "kill":
		case "pause":
			body.AutoPause = ptr(true)
		default:
			return nil, newError(
				KindInvalidArgument,
				"create sandbox: Lifecycle.OnTimeout must be \"kill\" or \"pause\", not %q",
				lc.OnTimeout,
			)
		}
		if lc.AutoResume != nil {
			body.AutoResume = &api.SandboxAutoResumeConfig{Enabled: *lc.AutoResume}
		}
	}
	var out api.Sandbox
	if _, _, err := c.do(ctx,
		restCall{method: http.MethodPost, path: "/sandboxes", body: body, out: &out,
			what: "create sandbox from " + strconv.Quote(template)}); err != nil {
		return nil, err
	}
	return newSandbox(&out, c), nil
}

// Connect attaches to an existing sandbox by ID, resuming it when paused.
func Connect(ctx context.Context, sandboxID string, opts *ConnectOptions) (*Sandbox, error) {
	if opts == nil {
		opts = &ConnectOptions{}
	}
	c := resolveOptions(&opts.Options)
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultSandboxTimeout
	}
	out, err := connectSandbox(ctx, c, sandboxID, timeout)
	if err != nil {
		return nil, err
	}
	return newSandbox(out, c), nil
}

func connectSandbox(ctx context.Context, c *conn, sandboxID string, timeout time.Duration) (*api.Sandbox, error) {
	if timeout < 0 {
		return nil, newError(KindInvalidArgument, "connect to sandbox %s: timeout must not be negative", sandboxID)
	}
	var out api.Sandbox
	_, _, err := c.do(ctx, restCall{
		method: http.MethodPost, path: "/sandboxes/" + url.PathEscape(sandboxID) + "/connect",
		body: api.ConnectSandbox{Timeout: ptr(seconds(timeout))}, out: &out, what: "connect to sandbox " + sandboxID,
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Kill destroys the sandbox (its state becomes closed). Killing a sandbox that is already gone is not an error.
func (s *Sandbox) Kill(ctx context.Context) error {
	_, err := KillByID(ctx, s.SandboxID, s.conn.options())
	return err
}

// Disconnect drops this client's idle connections; the sandbox keeps running and Connect attaches again.
// Background commands keep running too; their handles detach with CommandHandle.Disconnect.
func (s *Sandbox) Disconnect() {
	s.conn.http.CloseIdleConnections()
}

// SetTimeout sets the inactivity timeout to d from now (it may shorten it).
func (s *Sandbox) SetTimeout(ctx context.Context, d time.Duration) error {
	return SetTimeoutByID(ctx, s.SandboxID, d, s.conn.options())
}

// UpdateNetwork replaces the sandbox's outbound rules at once (open connections to newly denied addresses stop).
func (s *Sandbox) UpdateNetwork(ctx context.Context, allowOut, denyOut []string) error {
	return UpdateNetworkByID(ctx, s.SandboxID, allowOut, denyOut, s.conn.options())
}

// KeepAlive extends the sandbox's life to d from now (at most an hour per call; never shortens).
func (s *Sandbox) KeepAlive(ctx context.Context, d time.Duration) error {
	return KeepAliveByID(ctx, s.SandboxID, d, s.conn.options())
}

// GetInfo returns the sandbox's current state and configuration.
func (s *Sandbox) GetInfo(ctx context.Context) (*SandboxInfo, error) {
	return GetInfoByID(ctx, s.SandboxID, s.conn.options())
}

// Pause saves the sandbox's memory and disk and releases its compute; ErrConflict when it is already paused.
func (s *Sandbox) Pause(ctx context.Context) error {
	return PauseByID(ctx, s.SandboxID, s.conn.options())
}

// Resume wakes a paused sandbox (a no-op when it runs) and extends its timeout to d from now; 0 leaves the timeout
// as it is.
func (s *Sandbox) Resume(ctx context.Context, d time.Duration) error {
	out, err := connectSandbox(ctx, s.conn, s.SandboxID, d)
	if err != nil {
		return err
	}
	// A resumed sandbox may carry a fresh access token.
	if out.EnvdAccessToken != nil && *out.EnvdAccessToken != "" {
		s.envd.setToken(*out.EnvdAccessToken)
	}
	return nil
}

// GetMetrics returns the sandbox's resource-usage samples, oldest first.
func (s *Sandbox) GetMetrics(ctx context.Context) ([]Metric, error) {
	return GetMetricsByID(ctx, s.SandboxID, &MetricsOptions{Options: *s.conn.options()})
}

// GetLogs returns the sandbox's log entries (lifecycle events, agent messages, start-command output).
func (s *Sandbox) GetLogs(ctx context.Context) ([]LogEntry, error) {
	return GetLogsByID(ctx, s.SandboxID, &LogsOptions{Options: *s.conn.options()})
}

// IsRunning reports whether the sandbox runs and its agent answers (within 5 s); any failure counts as no.
func (s *Sandbox) IsRunning(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.conn.apiURL+"/health", nil)
	if err != nil {
		return false
	}
	s.envd.setHeaders(req.Header, "")
	res, err := s.conn.http.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode >= 200 && res.StatusCode < 300
}

// GetHost returns the host name under which port of the sandbox is reachable: "<sandboxID>-<port>.<domain>"
// (no scheme). The server routes requests carrying it as their Host header to that port.
func (s *Sandbox) GetHost(port int) string {
	return s.SandboxID + "-" + strconv.Itoa(port) + "." + s.Domain
}

func ptr[T any](v T) *T { return &v }

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
