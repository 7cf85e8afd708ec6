package tensorbox

// Templates: list base images and templates, and build custom ones in two steps — CreateTemplate registers a
// template and its first build, StartBuild submits the build's source and steps — then poll GetBuildStatus. Paths
// follow E2B's build API (POST /v3/templates, POST /v2/templates/{id}/builds/{build}, GET …/status, GET …/logs) plus
// Tensor Box's GET /templates/base-images; only GET /templates is in spec/openapi.yaml so far, the rest use the
// small structs below.

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// BaseImage is an image templates can be built from.
type BaseImage struct {
	DockerImage string `json:"dockerImage"`
	OSVersion   string `json:"osVersion"`
	Codename    string `json:"codename"`
	Status      string `json:"status"`
}

// TemplateInfo describes a template.
type TemplateInfo struct {
	TemplateID string
	BuildID    string
	// BuildStatus is building, waiting, ready or error.
	BuildStatus string
	Names       []string
	Aliases     []string
	CPUCount    int
	MemoryMB    int
	DiskSizeMB  int
	Public      bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	BuildCount  int
	SpawnCount  int
	EnvdVersion string
}

// TemplateCreateOptions describes a template to register.
type TemplateCreateOptions struct {
	// Name is "alias[:tag]".
	Name     string
	Tags     []string
	CPUCount int
	MemoryMB int
	DiskGB   int
}

// TemplateCreated is the answer to CreateTemplate: the IDs StartBuild needs.
type TemplateCreated struct {
	TemplateID string   `json:"templateID"`
	BuildID    string   `json:"buildID"`
	Names      []string `json:"names"`
	Public     bool     `json:"public"`
}

// TemplateBuildStep is one build step: a shell command run in the template being built.
type TemplateBuildStep struct {
	Name    string
	Command string
}

// TemplateBuildOptions is a build's source (exactly one of FromTemplate, FromImage, Dockerfile) and steps.
type TemplateBuildOptions struct {
	FromTemplate string
	FromImage    string
	Dockerfile   string
	Steps        []TemplateBuildStep
	// StartCmd runs when a sandbox starts from the template; ReadyCmd tells when it is ready.
	StartCmd string
	ReadyCmd string
	// Force rebuilds every step instead of reusing cached layers.
	Force bool
}

// BuildLogEntry is one line of a build's log.
type BuildLogEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Level     string    `json:"level"`
	Message   string    `json:"message"`
	Step      string    `json:"step,omitempty"`
}

// TemplateBuild is the state of one build.
type TemplateBuild struct {
	TemplateID string
	BuildID    string
	// Status is building, waiting, ready or error.
	Status string
	Logs   []string
	// Reason says why a build failed.
	Reason string
}

// ListBaseImages returns the base images templates can start from.
func ListBaseImages(ctx context.Context, opts *Options) ([]BaseImage, error) {
	var out []BaseImage
	_, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodGet, path: "/templates/base-images", out: &out, what: "list base images"})
	return out, err
}

// ListTemplates returns the templates the key can use.
func ListTemplates(ctx context.Context, opts *Options) ([]TemplateInfo, error) {
	var out []api.Template
	if _, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodGet, path: "/templates", out: &out, what: "list templates"}); err != nil {
		return nil, err
	}
	infos := make([]TemplateInfo, len(out))
	for i, t := range out {
		infos[i] = TemplateInfo{
			TemplateID: t.TemplateID, BuildID: t.BuildID, BuildStatus: string(t.BuildStatus), Names: t.Names, Aliases: t.Aliases,
			CPUCount: t.CpuCount, MemoryMB: t.MemoryMB, DiskSizeMB: t.DiskSizeMB, Public: t.Public,
			CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, BuildCount: t.BuildCount, SpawnCount: t.SpawnCount, EnvdVersion: t.EnvdVersion,
		}
	}
	return infos, nil
}

// TemplateDetail is one template with its builds (E2B's TemplateWithBuilds).
type TemplateDetail struct {
	TemplateID string   `json:"templateID"`
	Public     bool     `json:"public"`
	Names      []string `json:"names"`
	Aliases    []string `json:"aliases"`
	Builds     []struct {
		BuildID  string `json:"buildID"`
		Status   string `json:"status"`
		CPUCount int    `json:"cpuCount"`
		MemoryMB int    `json:"memoryMB"`
	} `json:"builds"`
}

// GetTemplate returns one template with its builds.
func GetTemplate(ctx context.Context, templateID string, opts *Options) (*TemplateDetail, error) {
	var out TemplateDetail
	if _, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodGet, path: "/templates/" + url.PathEscape(templateID), out: &out, what: "template " + templateID}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteTemplate deletes a template.
func DeleteTemplate(ctx context.Context, templateID string, opts *Options) error {
	_, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodDelete, path: "/templates/" + url.PathEscape(templateID), what: "delete template " + templateID})
	return err
}

// CreateTemplate registers a template and its first build; then call StartBuild with the returned IDs.
func CreateTemplate(ctx context.Context, t *TemplateCreateOptions, opts *Options) (*TemplateCreated, error) {
	if t == nil || t.Name == "" {
		return nil, newError(KindInvalidArgument, "create template: a name is required")
	}
	body := map[string]any{"name": t.Name}
	if len(t.Tags) > 0 {
		body["tags"] = t.Tags
	}
	if t.CPUCount > 0 {
		body["cpuCount"] = t.CPUCount
	}
	if t.MemoryMB > 0 {
		body["memoryMB"] = t.MemoryMB
	}
	if t.DiskGB > 0 {
		body["diskSizeMB"] = t.DiskGB * 1024
	}
	var out TemplateCreated
	if _, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodPost, path: "/v3/templates", body: body, out: &out, what: "create template " + t.Name}); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartBuild starts a build from exactly one source (FromTemplate, FromImage or Dockerfile) followed by the steps.
func StartBuild(ctx context.Context, templateID, buildID string, b *TemplateBuildOptions, opts *Options) error {
	if b == nil {
		b = &TemplateBuildOptions{}
	}
	sources := 0
	for _, s := range []string{b.FromTemplate, b.FromImage, b.Dockerfile} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return newError(KindInvalidArgument, "start build: give exactly one of FromTemplate, FromImage, Dockerfile")
	}
	// The seeds' {name, command} steps are E2B RUN steps.
	steps := make([]map[string]any, 0, len(b.Steps))
	for _, s := range b.Steps {
		step := map[string]any{"type": "RUN", "args": []string{s.Command}}
		if s.Name != "" {
			step["name"] = s.Name
		}
		steps = append(steps, step)
	}
	body := map[string]any{"steps": steps, "force": b.Force}
	for k, v := range map[string]string{"fromTemplate": b.FromTemplate, "fromImage": b.FromImage, "dockerfile": b.Dockerfile, "startCmd": b.StartCmd, "readyCmd": b.ReadyCmd} {
		if v != "" {
			body[k] = v
		}
	}
	_, _, err := resolveOptions(opts).do(ctx, restCall{
		method: http.MethodPost, path: "/v2/templates/" + url.PathEscape(templateID) + "/builds/" + url.PathEscape(buildID),
		body: body, what: "start build " + buildID + " of " + templateID,
	})
	return err
}

func buildPath(templateID, buildID string) string {
	return "/templates/" + url.PathEscape(templateID) + "/builds/" + url.PathEscape(buildID)
}

// GetBuildStatus returns the state of a build.
func GetBuildStatus(ctx context.Context, templateID, buildID string, opts *Options) (*TemplateBuild, error) {
	var out struct {
		TemplateID string          `json:"templateID"`
		BuildID    string          `json:"buildID"`
		Status     string          `json:"status"`
		Logs       []string        `json:"logs"`
		LogEntries []BuildLogEntry `json:"logEntries"`
		Reason     any             `json:"reason"` // a string, or {message} in newer servers
	}
	if _, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodGet, path: buildPath(templateID, buildID) + "/status", out: &out, what: "status of build " + buildID}); err != nil {
		return nil, err
	}
	b := &TemplateBuild{TemplateID: firstNonEmpty(out.TemplateID, templateID), BuildID: firstNonEmpty(out.BuildID, buildID), Status: out.Status, Logs: out.Logs}
	if len(b.Logs) == 0 {
		for _, e := range out.LogEntries {
			b.Logs = append(b.Logs, e.Message)
		}
	}
	switch r := out.Reason.(type) {
	case string:
		b.Reason = r
	case map[string]any:
		b.Reason, _ = r["message"].(string)
	}
	return b, nil
}

// GetBuildLogs returns the log entries of a build.
func GetBuildLogs(ctx context.Context, templateID, buildID string, opts *Options) ([]BuildLogEntry, error) {
	var out struct {
		Logs []BuildLogEntry `json:"logs"`
	}
	if _, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodGet, path: buildPath(templateID, buildID) + "/logs", out: &out, what: "logs of build " + buildID}); err != nil {
		return nil, err
	}
	return out.Logs, nil
}

// WaitForBuild polls a build every interval (default 2 s) until it is ready; a failed build is ErrInternal, ctx
// ending is ErrTimeout.
func WaitForBuild(ctx context.Context, templateID, buildID string, interval time.Duration, opts *Options) (*TemplateBuild, error) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	for {
		b, err := GetBuildStatus(ctx, templateID, buildID, opts)
		if err != nil {
			return nil, err
		}
		switch b.Status {
		case "ready":
			return b, nil
		case "error":
			return b, newError(KindInternal, "build %s of template %s failed: %s", buildID, templateID, firstNonEmpty(b.Reason, "see its logs"))
		}
		select {
		case <-ctx.Done():
			return b, fromTransport(ctx.Err(), "wait for build "+buildID)
		case <-time.After(interval):
		}
	}
}

// CommitOptions configures CommitAsTemplate.
type CommitOptions struct {
	CPUCount int
	MemoryMB int
	DiskGB   int
	// Wait polls until the build is ready (default true); false returns once the build was accepted.
	Wait *bool
	// PollInterval is the time between status polls (default 2 s).
	PollInterval time.Duration
}

// CommitAsTemplate turns the sandbox's current state into a reusable template named name: it snapshots the sandbox
// (which keeps running) and builds the template from that snapshot. By default it returns once the build is ready;
// the result's TemplateID creates sandboxes from it.
func (s *Sandbox) CommitAsTemplate(ctx context.Context, name string, opts *CommitOptions) (*TemplateBuild, error) {
	if opts == nil {
		opts = &CommitOptions{}
	}
	o := s.conn.options()
	snap, err := s.CreateSnapshot(ctx, name+"-source")
	if err != nil {
		return nil, err
	}
	created, err := CreateTemplate(ctx, &TemplateCreateOptions{Name: name, CPUCount: opts.CPUCount, MemoryMB: opts.MemoryMB, DiskGB: opts.DiskGB}, o)
	if err != nil {
		return nil, err
	}
	if err := StartBuild(ctx, created.TemplateID, created.BuildID, &TemplateBuildOptions{FromTemplate: snap.SnapshotID}, o); err != nil {
		return nil, err
	}
	if !boolOr(opts.Wait, true) {
		return &TemplateBuild{TemplateID: created.TemplateID, BuildID: created.BuildID, Status: "building"}, nil
	}
	return WaitForBuild(ctx, created.TemplateID, created.BuildID, opts.PollInterval, o)
}
