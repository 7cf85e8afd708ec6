package tensorbox

// Snapshots: save a running sandbox's state without pausing it, and list saved snapshots. A snapshot's ID can be
// used as a template ID. The routes (POST /sandboxes/{id}/snapshots, GET /snapshots) follow E2B's API and are not in
// spec/openapi.yaml yet, so their shapes are the small structs below.

import (
	"context"
	"net/http"
	"net/url"
)

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	SnapshotID string `json:"snapshotID"`
	SandboxID  string `json:"sandboxID"`
	Name       string `json:"name"`
	// Names are the template names under which the snapshot can start sandboxes.
	Names []string `json:"names"`
}

// SnapshotListOptions filters ListSnapshots.
type SnapshotListOptions struct {
	Options
	// SandboxID keeps the snapshots of one sandbox.
	SandboxID string
	// Name keeps snapshots with this name.
	Name string
}

// CreateSnapshot saves the sandbox's state while it keeps running; name is optional.
func (s *Sandbox) CreateSnapshot(ctx context.Context, name string) (*SnapshotInfo, error) {
	return CreateSnapshotByID(ctx, s.SandboxID, name, s.conn.options())
}

// CreateSnapshotByID snapshots a sandbox by ID (it keeps running).
func CreateSnapshotByID(ctx context.Context, sandboxID, name string, opts *Options) (*SnapshotInfo, error) {
	body := map[string]string{}
	if name != "" {
		body["name"] = name
	}
	var out SnapshotInfo
	if _, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodPost, path: sandboxPath(sandboxID) + "/snapshots", body: body, out: &out, what: "snapshot sandbox " + sandboxID}); err != nil {
		return nil, err
	}
	if out.SandboxID == "" {
		out.SandboxID = sandboxID
	}
	if out.Name == "" {
		out.Name = name
	}
	return &out, nil
}

// ListSnapshots returns every snapshot that matches, fetching all pages.
func ListSnapshots(ctx context.Context, opts *SnapshotListOptions) ([]SnapshotInfo, error) {
	if opts == nil {
		opts = &SnapshotListOptions{}
	}
	c := resolveOptions(&opts.Options)
	q := url.Values{}
	if opts.SandboxID != "" {
		q.Set("sandboxID", opts.SandboxID)
	}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	all := []SnapshotInfo{}
	for {
		var page []SnapshotInfo
		h, _, err := c.do(ctx, restCall{method: http.MethodGet, path: "/snapshots", query: q, out: &page, what: "list snapshots"})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		next := h.Get("X-Next-Token")
		if next == "" || len(page) == 0 {
			return all, nil
		}
		q.Set("nextToken", next)
	}
}
