package tensorbox

// Templates: list base images and templates, and build custom ones in two steps — CreateTemplate registers a
// template and its first build, StartBuild submits the build's source and steps — then poll GetBuildStatus (or let
// WaitForBuild do it). Paths and shapes are spec/openapi.yaml's (E2B's build API: POST /v3/templates,
// POST /v2/templates/{id}/builds/{build}, GET …/status, GET …/logs, plus Tensor Box's GET /templates/base-images);
// the wire types are generated into internal/api and converted here into Go-style ones. Committing a running
// sandbox as a template is in templates_commit.go.
// Over 400 lines on purpose: one function per call of the build API and its Go-side types, in one place.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// BaseImage is an image templates can be built from (a FromImage value).
type BaseImage struct {
	// DockerImage is what to pass as TemplateBuildOptions.FromImage.
	DockerImage string
	OSVersion   string
	Codename    string
	// Status is "ready" (built or pulled here already) or "available" (built or pulled on demand).
	Status string
	// Source is "mmdebstrap" or "registry".
	Source      string
	Description string
}

// TemplateInfo describes a template.
type TemplateInfo struct {
	TemplateID string
	// BuildID is the build sandboxes start from.
	BuildID string
	// BuildStatus is building, waiting, ready or error.
	BuildStatus      string
	Names            []string
	Aliases          []string
	CPUCount         int
	MemoryMB         int
	DiskSizeMB       int
	Public           bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastSpawnedAt    *time.Time
	BuildCount       int
	SpawnCount       int
	EnvdVersion      string
	StartCmd         string
	ReadyCmd         string
	ParentTemplateID string
	// WarmStart: sandboxes resume a captured state with StartCmd already running.
	WarmStart bool
	// Isolation is what its sandboxes run in ("container", "microvm"; empty: the server's default).
	Isolation string
}

// TemplateDetail is one template with its builds, newest first (E2B's TemplateWithBuilds).
type TemplateDetail struct {
	TemplateInfo
	Builds []TemplateBuild
}

// TemplateCreateOptions describes a template to register.
type TemplateCreateOptions struct {
	// Name is "name[:tag]"; the name can be used wherever a template ID can.
	Name     string
	Tags     []string
	CPUCount int
	MemoryMB int
	// DiskGB is each sandbox's writable disk (default 40 GiB, or the parent template's).
	DiskGB int
	// Isolation is what the template's sandboxes run in unless a create says otherwise: "container" or "microvm"
	// (empty: the server's default).
	Isolation string
}

// TemplateCreated is the answer to CreateTemplate (and to a commit): the IDs StartBuild and GetBuildStatus need.
type TemplateCreated struct {
	TemplateID string
	BuildID    string
	Names      []string
	Aliases    []string
	Tags       []string
	Public     bool
}

// TemplateBuildStep is one build step. The seeds' shape {Name, Command} is a RUN step; Type and Args give the other
// step types of E2B's build API (ENV args [k1, v1, …], WORKDIR [path], USER [user], RUN [command, user?]).
type TemplateBuildStep struct {
	// Name is shown in the build log and in a failed build's reason.
	Name    string
	Command string
	// Type is RUN (default), COPY, ENV, WORKDIR or USER; Args are its arguments (Command is RUN's first one).
	Type string
	Args []string
	// FilesHash names the uploaded tar a COPY step reads (UploadTemplateFiles).
	FilesHash string
	// Force rebuilds this step instead of reusing a cached layer.
	Force bool
}

// TemplateBuildOptions is a build's source (exactly one of FromTemplate, FromImage, Dockerfile) and steps.
type TemplateBuildOptions struct {
	// FromTemplate is a ready template's ID or name.
	FromTemplate string
	// FromImage is an image reference (see ListBaseImages).
	FromImage string
	// Dockerfile is Dockerfile text; FROM names a template or an image.
	Dockerfile string
	Steps      []TemplateBuildStep
	// StartCmd runs in every sandbox of the template; with ReadyCmd (polled until it exits 0) the template is
	// captured with StartCmd running.
	StartCmd string
	ReadyCmd string
	// Force rebuilds every step instead of reusing cached layers.
	Force bool
	// FilesHash is the Dockerfile's build context, a tar uploaded with UploadTemplateFiles.
	FilesHash string
}

// BuildLogEntry is one line of a build's log.
type BuildLogEntry struct {
	Timestamp time.Time
	// Level is debug, info, warn or error.
	Level   string
	Message string
	// Step names the step the line belongs to, if any.
	Step string
}

// BuildReason says why a build failed.
type BuildReason struct {
	Message string
	// Step is the failing step's name; ExitCode its command's exit code (0 when not a command failure).
	Step     string
	ExitCode int
	// LogEntries are the last lines of the log.
	LogEntries []BuildLogEntry
}

// TemplateBuild is the state of one build: what GetBuildStatus, WaitForBuild and CommitAsTemplate return, and the
// items of TemplateDetail.Builds.
type TemplateBuild struct {
	TemplateID string
	BuildID    string
	// Status is building, waiting, ready or error.
	Status string
	// Reason is set when Status is error.
	Reason *BuildReason
	// Logs and LogEntries are the log from the LogsOffset asked for (GetBuildStatus only).
	Logs       []string
	LogEntries []BuildLogEntry
	// The fields below are filled in TemplateDetail.Builds.
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
	CPUCount    int
	MemoryMB    int
	DiskSizeMB  int
	EnvdVersion string
	// Source is what the build started from, e.g. "template default" or "sandbox <id>".
	Source string
}

// BuildStatusOptions configures GetBuildStatus.
type BuildStatusOptions struct {
	Options
	// LogsOffset is the number of log entries already seen; the answer carries the ones after it.
	LogsOffset int
	// Limit caps the log entries in the answer (server default 1000).
	Limit int
	// Level is the minimum level of the log entries (debug, info, warn, error).
	Level string
}

// BuildLogsOptions configures GetBuildLogs.
type BuildLogsOptions struct {
	Options
	// Offset is the number of entries already seen (BuildLogs.NextOffset of the previous call).
	Offset int
	Limit  int
	Level  string
}

// BuildLogs is a page of a build's log.
type BuildLogs struct {
	Logs []BuildLogEntry
	// NextOffset is the Offset to ask for next.
	NextOffset int
}

// ListBaseImages returns the base images templates can start from.
func ListBaseImages(ctx context.Context, opts *Options) ([]BaseImage, error) {
	var out []api.BaseImage
	if _, _, err := resolveOptions(opts).do(ctx,
		restCall{method: http.MethodGet, path: "/templates/base-images", out: &out, what: "list base images"}); err != nil {
		return nil, err
	}
	images := make([]BaseImage, len(out))
	for i, b := range out {
		images[i] = BaseImage{
			DockerImage: b.DockerImage, OSVersion: b.OsVersion, Codename: b.Codename, Status: string(b.Status),
			Source: string(b.Source), Description: deref(b.Description),
		}
	}
	return images, nil
}

// ListTemplates returns the templates the key can use.
func ListTemplates(ctx context.Context, opts *Options) ([]TemplateInfo, error) {
	var out []api.Template
	if _, _, err := resolveOptions(opts).do(ctx,
		restCall{method: http.MethodGet, path: "/templates", out: &out, what: "list templates"}); err != nil {
		return nil, err
	}
	infos := make([]TemplateInfo, len(out))
	for i, t := range out {
		infos[i] = TemplateInfo{
			TemplateID: t.TemplateID, BuildID: t.BuildID, BuildStatus: string(t.BuildStatus), Names: t.Names, Aliases: t.Aliases,
			CPUCount: t.CpuCount, MemoryMB: t.MemoryMB, DiskSizeMB: t.DiskSizeMB, Public: t.Public,
			CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, LastSpawnedAt: t.LastSpawnedAt, BuildCount: t.BuildCount,
			SpawnCount: t.SpawnCount, EnvdVersion: t.EnvdVersion, StartCmd: deref(t.StartCmd), ReadyCmd: deref(t.ReadyCmd),
			ParentTemplateID: deref(t.ParentTemplateID), WarmStart: deref(t.WarmStart),
			Isolation: isolationString(t.Isolation),
		}
	}
	return infos, nil
}

func templatePath(templateID string) string { return "/templates/" + url.PathEscape(templateID) }

// GetTemplate returns one template (by ID or name) with its builds.
func GetTemplate(ctx context.Context, templateID string, opts *Options) (*TemplateDetail, error) {
	var t api.TemplateWithBuilds
	if _, _, err := resolveOptions(opts).do(ctx,
		restCall{method: http.MethodGet, path: templatePath(templateID), out: &t,
			what: "template " + templateID}); err != nil {
		return nil, err
	}
	d := &TemplateDetail{TemplateInfo: TemplateInfo{
		TemplateID: t.TemplateID, BuildID: deref(t.BuildID), Names: t.Names, Aliases: t.Aliases, Public: t.Public,
		CPUCount: deref(t.CpuCount), MemoryMB: deref(t.MemoryMB), DiskSizeMB: deref(t.DiskSizeMB),
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, LastSpawnedAt: t.LastSpawnedAt,
		BuildCount: t.BuildCount, SpawnCount: t.SpawnCount,
		StartCmd: deref(
			t.StartCmd,
		), ReadyCmd: deref(t.ReadyCmd), ParentTemplateID: deref(t.ParentTemplateID), WarmStart: deref(t.WarmStart),
	}}
	if t.BuildStatus != nil {
		d.BuildStatus = string(*t.BuildStatus)
	}
	for _, b := range t.Builds {
		d.Builds = append(d.Builds, TemplateBuild{
			TemplateID: t.TemplateID, BuildID: b.BuildID, Status: string(b.Status), Reason: toReason(b.Reason),
			CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, FinishedAt: b.FinishedAt, CPUCount: b.CpuCount, MemoryMB: b.MemoryMB,
			DiskSizeMB: b.DiskSizeMB, EnvdVersion: b.EnvdVersion, Source: deref(b.Source),
		})
	}
	if d.EnvdVersion == "" && len(d.Builds) > 0 {
		d.EnvdVersion = d.Builds[0].EnvdVersion
	}
	return d, nil
}

// TemplateExists reports whether a template with this name (or ID) exists.
func TemplateExists(ctx context.Context, name string, opts *Options) (bool, error) {
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodGet, path: "/templates/aliases/" + url.PathEscape(name),
		what: "look up template " + name})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DeleteTemplate deletes a template (by ID or name) and its layers; false (and no error) when there was none,
// ErrConflict while sandboxes, snapshots or other templates use it.
func DeleteTemplate(ctx context.Context, templateID string, opts *Options) (bool, error) {
	_, _, err := resolveOptions(
		opts,
	).do(ctx, restCall{method: http.MethodDelete, path: templatePath(templateID), what: "delete template " + templateID})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// CreateTemplate registers a template and its first build; then call StartBuild with the returned IDs.
func CreateTemplate(ctx context.Context, t *TemplateCreateOptions, opts *Options) (*TemplateCreated, error) {
	if t == nil || t.Name == "" {
		return nil, newError(KindInvalidArgument, "create template: a name is required")
	}
	body := api.TemplateCreateRequest{
		Name:       t.Name,
		CpuCount:   positive(t.CPUCount),
		MemoryMB:   positive(t.MemoryMB),
		DiskSizeMB: positive(t.DiskGB * 1024),
	}
	if t.Isolation != "" {
		body.Isolation = ptr(api.Isolation(t.Isolation))
	}
	if len(t.Tags) > 0 {
		body.Tags = &t.Tags
	}
	var out api.TemplateRequestResponse
	if _, _, err := resolveOptions(opts).do(ctx,
		restCall{method: http.MethodPost, path: "/v3/templates", body: body, out: &out,
			what: "create template " + strconv.Quote(t.Name)}); err != nil {
		return nil, err
	}
	return toCreated(&out), nil
}

// StartBuild starts a registered build from exactly one source (FromTemplate, FromImage or Dockerfile) followed by
// the steps; it returns once the server accepted it (poll GetBuildStatus or call WaitForBuild).
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
	steps := make([]api.TemplateStep, 0, len(b.Steps))
	for _, s := range b.Steps {
		steps = append(steps, toStep(s))
	}
	body := api.TemplateBuildStartRequest{
		FromTemplate: nonEmpty(b.FromTemplate), FromImage: nonEmpty(b.FromImage), Dockerfile: nonEmpty(b.Dockerfile),
		StartCmd: nonEmpty(b.StartCmd), ReadyCmd: nonEmpty(b.ReadyCmd), Steps: &steps, Force: ptr(b.Force),
		FilesHash: nonEmpty(b.FilesHash),
	}
	_, _, err := resolveOptions(opts).do(ctx, restCall{
		method: http.MethodPost, path: "/v2/templates/" + url.PathEscape(templateID) + "/builds/" + url.PathEscape(buildID),
		body: body, what: "start build " + buildID + " of template " + templateID,
	})
	return err
}

// toStep turns a step into the wire's: {Name, Command} is {type: RUN, args: [command], name} as E2B's SDKs send it.
func toStep(s TemplateBuildStep) api.TemplateStep {
	typ, args := s.Type, s.Args
	if typ == "" {
		typ = "RUN"
	}
	if s.Command != "" && typ == "RUN" {
		args = append([]string{s.Command}, args...)
	}
	st := api.TemplateStep{
		Type:      ptr(api.TemplateStepType(typ)),
		Args:      &args,
		Name:      nonEmpty(s.Name),
		FilesHash: nonEmpty(s.FilesHash),
	}
	if s.Force {
		st.Force = ptr(true)
	}
	return st
}

func buildPath(templateID, buildID string) string {
	return templatePath(templateID) + "/builds/" + url.PathEscape(buildID)
}

// GetBuildStatus returns the state of a build and its log from opts.LogsOffset on.
func GetBuildStatus(ctx context.Context, templateID, buildID string, opts *BuildStatusOptions) (*TemplateBuild, error) {
	if opts == nil {
		opts = &BuildStatusOptions{}
	}
	q := logQuery("logsOffset", opts.LogsOffset, opts.Limit, opts.Level)
	var out api.TemplateBuildInfo
	if _, _, err := resolveOptions(&opts.Options).do(ctx,
		restCall{method: http.MethodGet, path: buildPath(templateID, buildID) + "/status", query: q, out: &out,
			what: "status of build " + buildID}); err != nil {
		return nil, err
	}
	return &TemplateBuild{
		TemplateID: firstNonEmpty(
			out.TemplateID,
			templateID,
		), BuildID: firstNonEmpty(out.BuildID, buildID), Status: string(out.Status),
		Reason: toReason(out.Reason), Logs: out.Logs, LogEntries: toLogEntries(out.LogEntries),
	}, nil
}

// GetBuildLogs returns a build's log entries from opts.Offset on.
func GetBuildLogs(ctx context.Context, templateID, buildID string, opts *BuildLogsOptions) (*BuildLogs, error) {
	if opts == nil {
		opts = &BuildLogsOptions{}
	}
	q := logQuery("offset", opts.Offset, opts.Limit, opts.Level)
	var out api.TemplateBuildLogsResponse
	if _, _, err := resolveOptions(&opts.Options).do(ctx,
		restCall{method: http.MethodGet, path: buildPath(templateID, buildID) + "/logs", query: q, out: &out,
			what: "logs of build " + buildID}); err != nil {
		return nil, err
	}
	logs := &BuildLogs{Logs: toLogEntries(out.Logs), NextOffset: deref(out.NextOffset)}
	if out.NextOffset == nil {
		logs.NextOffset = opts.Offset + len(out.Logs)
	}
	return logs, nil
}

func logQuery(offsetName string, offset, limit int, level string) url.Values {
	q := url.Values{}
	if offset > 0 {
		q.Set(offsetName, strconv.Itoa(offset))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if level != "" {
		q.Set("level", level)
	}
	return q
}

// WaitOptions configures WaitForBuild (and the wait of CommitAsTemplate).
type WaitOptions struct {
	Options
	// PollInterval is the time between status polls (default 500 ms).
	PollInterval time.Duration
	// OnLog receives every new log entry, in order, as the polls bring them.
	OnLog func(BuildLogEntry)
}

// WaitForBuild polls a build until it is ready. A failed build is a *BuildError (errors.Is(err, ErrBuild)) that
// carries the reason and the failing step; ctx ending is ErrTimeout. Bound the wait with ctx.
func WaitForBuild(ctx context.Context, templateID, buildID string, opts *WaitOptions) (*TemplateBuild, error) {
	if opts == nil {
		opts = &WaitOptions{}
	}
	interval := opts.PollInterval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	seen := 0
	for {
		b, err := GetBuildStatus(ctx, templateID, buildID, &BuildStatusOptions{Options: opts.Options, LogsOffset: seen})
		if err != nil {
			return nil, err
		}
		seen += len(b.LogEntries)
		if opts.OnLog != nil {
			for _, e := range b.LogEntries {
				opts.OnLog(e)
			}
		}
		switch b.Status {
		case "ready":
			return b, nil
		case "error":
			return b, newBuildError(b)
		}
		select {
		case <-ctx.Done():
			return b, fromTransport(ctx.Err(), "wait for build "+buildID+" of template "+templateID)
		case <-time.After(interval):
		}
	}
}

func toCreated(r *api.TemplateRequestResponse) *TemplateCreated {
	return &TemplateCreated{
		TemplateID: r.TemplateID,
		BuildID:    r.BuildID,
		Names:      r.Names,
		Aliases:    r.Aliases,
		Tags:       r.Tags,
		Public:     r.Public,
	}
}

func toReason(r *api.BuildStatusReason) *BuildReason {
	if r == nil {
		return nil
	}
	out := &BuildReason{Message: r.Message, Step: deref(r.Step), ExitCode: deref(r.ExitCode)}
	if r.LogEntries != nil {
		out.LogEntries = toLogEntries(*r.LogEntries)
	}
	return out
}

func toLogEntries(es []api.BuildLogEntry) []BuildLogEntry {
	out := make([]BuildLogEntry, len(es))
	for i, e := range es {
		out[i] = BuildLogEntry{Timestamp: e.Timestamp, Level: string(e.Level), Message: e.Message, Step: deref(e.Step)}
	}
	return out
}

func positive(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
