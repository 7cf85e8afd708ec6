package tensorbox

// Package-level lifecycle calls by sandbox ID, for callers that hold an ID rather than a *Sandbox; the Sandbox
// methods delegate here. Pause, metrics and logs follow E2B's REST paths.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

func sandboxPath(id string) string { return "/sandboxes/" + url.PathEscape(id) }

// KillByID destroys a sandbox; it reports false (and no error) when the sandbox did not exist.
func KillByID(ctx context.Context, sandboxID string, opts *Options) (bool, error) {
	c := resolveOptions(opts)
	_, _, err := c.do(
		ctx,
		restCall{method: http.MethodDelete, path: sandboxPath(sandboxID), what: "kill sandbox " + sandboxID},
	)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GetInfoByID returns a sandbox's state and configuration.
func GetInfoByID(ctx context.Context, sandboxID string, opts *Options) (*SandboxInfo, error) {
	var out api.SandboxDetail
	if _, _, err := resolveOptions(opts).do(ctx,
		restCall{method: http.MethodGet, path: sandboxPath(sandboxID), out: &out, what: "sandbox " + sandboxID}); err != nil {
		return nil, err
	}
	info := detailToInfo(&out)
	return &info, nil
}

// SetTimeoutByID sets a sandbox's inactivity timeout to d from now (it may shorten it).
func SetTimeoutByID(ctx context.Context, sandboxID string, d time.Duration, opts *Options) error {
	if d < 0 {
		return newError(KindInvalidArgument, "set timeout of sandbox %s: timeout must not be negative", sandboxID)
	}
	_, _, err := resolveOptions(opts).do(ctx, restCall{
		method: http.MethodPost, path: sandboxPath(sandboxID) + "/timeout",
		body: api.SandboxTimeoutRequest{Timeout: seconds(d)}, what: "set timeout of sandbox " + sandboxID,
	})
	return err
}

// KeepAliveByID extends a sandbox's life to d from now (capped at an hour per call; never shortens).
func KeepAliveByID(ctx context.Context, sandboxID string, d time.Duration, opts *Options) error {
	if d < 0 {
		return newError(KindInvalidArgument, "keep sandbox %s alive: duration must not be negative", sandboxID)
	}
	secs := int(min(seconds(d), 3600))
	_, _, err := resolveOptions(opts).do(ctx, restCall{
		method: http.MethodPost, path: sandboxPath(sandboxID) + "/refreshes",
		body: api.SandboxRefreshRequest{Duration: &secs}, what: "keep sandbox " + sandboxID + " alive",
	})
	return err
}

// PauseByID pauses a sandbox (memory and disk are saved); ErrConflict when it is already paused.
func PauseByID(ctx context.Context, sandboxID string, opts *Options) error {
	return pauseByID(ctx, sandboxID, nil, opts)
}

// PauseFilesystemByID pauses a sandbox keeping only its files (see Sandbox.PauseFilesystem).
func PauseFilesystemByID(ctx context.Context, sandboxID string, opts *Options) error {
	return pauseByID(ctx, sandboxID, ptr(false), opts)
}

func pauseByID(ctx context.Context, sandboxID string, memory *bool, opts *Options) error {
	_, _, err := resolveOptions(opts).do(ctx, restCall{
		method: http.MethodPost, path: sandboxPath(sandboxID) + "/pause", body: api.SandboxPauseRequest{Memory: memory},
		what: "pause sandbox " + sandboxID,
	})
	return err
}

// ResumeByID resumes a paused sandbox (a no-op when it runs) and returns a handle on it; d extends its timeout
// (0 leaves it as it is).
func ResumeByID(ctx context.Context, sandboxID string, d time.Duration, opts *Options) (*Sandbox, error) {
	c := resolveOptions(opts)
	out, err := connectSandbox(ctx, c, sandboxID, d, "")
	if err != nil {
		return nil, err
	}
	return newSandbox(out, c), nil
}

// Metric is one resource-usage sample of a sandbox; memory and disk are in bytes.
type Metric struct {
	Timestamp  time.Time
	CPUCount   int
	CPUUsedPct float64
	MemUsed    int64
	MemTotal   int64
	DiskUsed   int64
	DiskTotal  int64
}

// MetricsOptions bounds GetMetricsByID's time range (zero = the server's default window).
type MetricsOptions struct {
	Options
	Start, End time.Time
}

// GetMetricsByID returns a sandbox's resource-usage samples, oldest first.
func GetMetricsByID(ctx context.Context, sandboxID string, opts *MetricsOptions) ([]Metric, error) {
	if opts == nil {
		opts = &MetricsOptions{}
	}
	q := url.Values{}
	if !opts.Start.IsZero() {
		q.Set("start", strconv.FormatInt(opts.Start.Unix(), 10))
	}
	if !opts.End.IsZero() {
		q.Set("end", strconv.FormatInt(opts.End.Unix(), 10))
	}
	var out []api.SandboxMetric
	if _, _, err := resolveOptions(&opts.Options).do(ctx,
		restCall{method: http.MethodGet, path: sandboxPath(sandboxID) + "/metrics", query: q, out: &out,
			what: "metrics of sandbox " + sandboxID}); err != nil {
		return nil, err
	}
	ms := make([]Metric, len(out))
	for i, m := range out {
		ms[i] = Metric{
			Timestamp: time.Unix(m.TimestampUnix, 0), CPUCount: m.CpuCount, CPUUsedPct: float64(m.CpuUsedPct),
			MemUsed: m.MemUsed, MemTotal: m.MemTotal, DiskUsed: m.DiskUsed, DiskTotal: m.DiskTotal,
		}
	}
	return ms, nil
}

// LogEntry is one line of a sandbox's log.
type LogEntry struct {
	Timestamp time.Time
	// Level is debug, info, warn or error.
	Level   string
	Message string
	Fields  map[string]string
}

// LogsOptions filters GetLogsByID.
type LogsOptions struct {
	Options
	// Start returns entries after this time.
	Start time.Time
	// Limit caps the number of entries (1..1000).
	Limit int
	// Level is the minimum level.
	Level string
	// Search keeps entries whose message contains it (case-insensitive).
	Search string
}

// GetLogsByID returns a sandbox's log entries, oldest first.
func GetLogsByID(ctx context.Context, sandboxID string, opts *LogsOptions) ([]LogEntry, error) {
	if opts == nil {
		opts = &LogsOptions{}
	}
	q := url.Values{}
	if !opts.Start.IsZero() {
		q.Set("cursor", strconv.FormatInt(opts.Start.UnixMilli(), 10))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Level != "" {
		q.Set("level", opts.Level)
	}
	if opts.Search != "" {
		q.Set("search", opts.Search)
	}
	var out api.SandboxLogsV2Response
	if _, _, err := resolveOptions(&opts.Options).do(ctx,
		restCall{method: http.MethodGet, path: "/v2" + sandboxPath(sandboxID) + "/logs", query: q, out: &out,
			what: "logs of sandbox " + sandboxID}); err != nil {
		return nil, err
	}
	logs := make([]LogEntry, len(out.Logs))
	for i, l := range out.Logs {
		logs[i] = LogEntry{Timestamp: l.Timestamp, Level: string(l.Level), Message: l.Message, Fields: l.Fields}
	}
	return logs, nil
}

// UpdateNetworkByID replaces a sandbox's outbound rules at once (open connections to newly denied addresses stop).
func UpdateNetworkByID(ctx context.Context, sandboxID string, allowOut, denyOut []string, opts *Options) error {
	if allowOut == nil {
		allowOut = []string{}
	}
	if denyOut == nil {
		denyOut = []string{}
	}
	_, _, err := resolveOptions(opts).do(ctx, restCall{
		method: http.MethodPut, path: sandboxPath(sandboxID) + "/network",
		body: api.SandboxNetworkUpdateConfig{
			AllowOut: &allowOut,
			DenyOut:  &denyOut,
		}, what: "update network of sandbox " + sandboxID,
	})
	return err
}
