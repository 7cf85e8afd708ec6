package tensorbox

// Snapshots: save a running sandbox's state without pausing it, and list saved snapshots. A snapshot's ID can be
// used as a template ID. The routes (POST /sandboxes/{id}/snapshots, GET /snapshots) follow E2B's API; their shapes
// are spec/openapi.yaml's (internal/api).

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	// SnapshotID can be used as a template ID to start sandboxes with the saved state.
	SnapshotID string
	SandboxID  string
	Name       string
	// Names are the template names under which the snapshot can start sandboxes.
	Names []string
	// TemplateID is the template the source sandbox was made from.
	TemplateID string
	CreatedAt  *time.Time
}

func toSnapshot(s *api.SnapshotInfo) SnapshotInfo {
	return SnapshotInfo{
		SnapshotID: s.SnapshotID,
		SandboxID:  deref(s.SandboxID),
		Name:       deref(s.Name),
		Names:      s.Names,
		TemplateID: deref(s.TemplateID),
		CreatedAt:  s.CreatedAt,
	}
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
	var raw api.SnapshotInfo
	body := api.SandboxSnapshotRequest{Name: nonEmpty(name)}
	if _, _, err := resolveOptions(opts).do(ctx,
		restCall{method: http.MethodPost, path: sandboxPath(sandboxID) + "/snapshots", body: body, out: &raw,
			what: "snapshot sandbox " + sandboxID}); err != nil {
		return nil, err
	}
	out := toSnapshot(&raw)
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
		var page []api.SnapshotInfo
		h, _, err := c.do(
			ctx,
			restCall{method: http.MethodGet, path: "/snapshots", query: q, out: &page, what: "list snapshots"},
		)
		if err != nil {
			return nil, err
		}
		for i := range page {
			all = append(all, toSnapshot(&page[i]))
		}
		next := h.Get("X-Next-Token")
		if next == "" || len(page) == 0 {
			return all, nil
		}
		q.Set("nextToken", next)
	}
}

// DeleteSnapshot deletes a snapshot (by ID or name) and its images; false when there was none. A snapshot that a
// sandbox or template still uses is a KindConflict error.
func DeleteSnapshot(ctx context.Context, snapshotID string, opts *Options) (bool, error) {
	_, status, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodDelete, path: "/snapshots/" + url.PathEscape(snapshotID),
		what: "delete snapshot " + snapshotID})
	if status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}
