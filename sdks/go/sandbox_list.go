package tensorbox

// Listing sandboxes: GET /v2/sandboxes page by page (the cursor travels in the X-Next-Token header), and the
// SandboxInfo every listing and GetInfo returns.

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// SandboxInfo describes one sandbox.
type SandboxInfo struct {
	SandboxID  string
	TemplateID string
	// Name is the template's alias, when it has one.
	Name string
	// State is "running", "paused" or "lost" (its node died; a cluster of several servers).
	State      string
	StartedAt  time.Time
	EndAt      time.Time
	CPUCount   int
	MemoryMB   int
	DiskSizeMB int
	Metadata   map[string]string
	// EnvdVersion is the version of the agent inside the sandbox.
	EnvdVersion string
	// VolumeMounts are the volumes it mounts (name and sandbox path).
	VolumeMounts []api.SandboxVolumeMount
	// Isolation is "container" or "microvm" (empty from servers before isolation per sandbox).
	Isolation string
}

// Info is the seeds' short name for SandboxInfo.
type Info = SandboxInfo

// ListOptions filters List. A nil *ListOptions lists running and paused sandboxes.
type ListOptions struct {
	Options
	// State keeps sandboxes in these states ("running", "paused", "lost").
	State []string
	// Metadata keeps sandboxes whose metadata has all these pairs.
	Metadata map[string]string
	// Limit is the page size (1..100; default the server's).
	Limit int
	// Template keeps sandboxes of this template (ID or name).
	Template string
	// StartedAfter keeps sandboxes started at or after this time (zero: no bound).
	StartedAfter time.Time
	// Order by start time: "desc" (default, newest first) or "asc".
	Order string
	// NextToken starts ListPage at this page (a previous ListPage's nextToken).
	NextToken string
}

// List returns every sandbox that matches, fetching all pages.
//
//	infos, err := tensorbox.List(ctx, &tensorbox.ListOptions{
//		State: []string{"running"}, Metadata: map[string]string{"userId": "123"},
//	})
func List(ctx context.Context, opts *ListOptions) ([]SandboxInfo, error) {
	page := ListOptions{}
	if opts != nil {
		page = *opts
	}
	var all []SandboxInfo
	for {
		items, next, err := ListPage(ctx, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" || len(items) == 0 {
			return all, nil
		}
		page.NextToken = next
	}
}

// ListPage returns one page of the listing (from opts.NextToken on) and the token of the next page ("" after the
// last), as E2B's and the TypeScript SDK's paginators do.
//
//	page, next, err := tensorbox.ListPage(ctx, &tensorbox.ListOptions{Limit: 10})
func ListPage(ctx context.Context, opts *ListOptions) ([]SandboxInfo, string, error) {
	if opts == nil {
		opts = &ListOptions{}
	}
	c := resolveOptions(&opts.Options)
	q := url.Values{}
	if len(opts.State) > 0 {
		q.Set("state", strings.Join(opts.State, ","))
	}
	if len(opts.Metadata) > 0 {
		q.Set("metadata", encodeMetadata(opts.Metadata))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Template != "" {
		q.Set("template", opts.Template)
	}
	if !opts.StartedAfter.IsZero() {
		q.Set("startedAfter", opts.StartedAfter.UTC().Format(time.RFC3339Nano))
	}
	if opts.Order != "" {
		q.Set("order", opts.Order)
	}
	if opts.NextToken != "" {
		q.Set("nextToken", opts.NextToken)
	}
	var page []api.ListedSandbox
	h, _, err := c.do(
		ctx,
		restCall{method: http.MethodGet, path: "/v2/sandboxes", query: q, out: &page, what: "list sandboxes"},
	)
	if err != nil {
		return nil, "", err
	}
	out := make([]SandboxInfo, 0, len(page))
	for i := range page {
		out = append(out, listedToInfo(&page[i]))
	}
	return out, h.Get("X-Next-Token"), nil
}

// encodeMetadata is the filter's wire form: the pairs URL-encoded as "k=v&k2=v2" (and then encoded again as one
// query value), in a stable order.
func encodeMetadata(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	v := url.Values{}
	for _, k := range keys {
		v.Set(k, m[k])
	}
	return v.Encode()
}

func listedToInfo(s *api.ListedSandbox) SandboxInfo {
	return SandboxInfo{
		SandboxID: s.SandboxID, TemplateID: s.TemplateID, Name: deref(s.Alias), State: string(s.State),
		StartedAt: s.StartedAt, EndAt: s.EndAt, CPUCount: s.CpuCount, MemoryMB: s.MemoryMB, DiskSizeMB: s.DiskSizeMB,
		Metadata: metadataMap(s.Metadata), EnvdVersion: s.EnvdVersion, VolumeMounts: derefMounts(s.VolumeMounts),
		Isolation: isolationString(s.Isolation),
	}
}

func derefMounts(m *[]api.SandboxVolumeMount) []api.SandboxVolumeMount {
	if m == nil {
		return nil
	}
	return *m
}

func detailToInfo(s *api.SandboxDetail) SandboxInfo {
	return SandboxInfo{
		SandboxID: s.SandboxID, TemplateID: s.TemplateID, Name: deref(s.Alias), State: string(s.State),
		StartedAt: s.StartedAt, EndAt: s.EndAt, CPUCount: s.CpuCount, MemoryMB: s.MemoryMB, DiskSizeMB: s.DiskSizeMB,
		Metadata: metadataMap(s.Metadata), EnvdVersion: s.EnvdVersion, VolumeMounts: derefMounts(s.VolumeMounts),
		Isolation: isolationString(s.Isolation),
	}
}

func isolationString(i *api.Isolation) string {
	if i == nil {
		return ""
	}
	return string(*i)
}

func metadataMap(m *api.SandboxMetadata) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return *m
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
