package tensorbox

// Committing a running sandbox as a template: POST /sandboxes/{id}/commit copies the sandbox's filesystem into a new
// template (the sandbox keeps running, briefly frozen for the copy) and answers 202 with the template and build IDs;
// by default the SDK then polls the build until it is ready.

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// CommitOptions configures CommitAsTemplate. The zero value uses the sandbox's resources and waits.
type CommitOptions struct {
	// Options are used by CommitAsTemplateByID; the Sandbox method uses its own connection.
	Options
	CPUCount int
	MemoryMB int
	// DiskGB is each sandbox's writable disk (default: the source sandbox's).
	DiskGB int
	// Wait polls until the build is ready (default true); false returns once the commit was accepted, with the
	// build's status then.
	Wait *bool
	// PollInterval is the time between status polls (default 500 ms).
	PollInterval time.Duration
	// OnLog receives the build's log entries while waiting.
	OnLog func(BuildLogEntry)
}

// CommitAsTemplate turns the sandbox's current filesystem into a reusable template named name; the sandbox keeps
// running. By default it returns once the build is ready (a failed build is a *BuildError); the result's TemplateID
// (or name) creates sandboxes from it. Bound the wait with ctx.
//
//	tpl, err := sbx.CommitAsTemplate(ctx, "ubuntu-with-ffmpeg", &tensorbox.CommitOptions{CPUCount: 2, MemoryMB: 2048})
//	sbx2, err := tensorbox.Create(ctx, tpl.TemplateID, nil)
func (s *Sandbox) CommitAsTemplate(ctx context.Context, name string, opts *CommitOptions) (*TemplateBuild, error) {
	o := CommitOptions{}
	if opts != nil {
		o = *opts
	}
	o.Options = *s.conn.options()
	return CommitAsTemplateByID(ctx, s.SandboxID, name, &o)
}

// CommitAsTemplateByID commits a sandbox by ID as template name (see Sandbox.CommitAsTemplate).
func CommitAsTemplateByID(ctx context.Context, sandboxID, name string, opts *CommitOptions) (*TemplateBuild, error) {
	if opts == nil {
		opts = &CommitOptions{}
	}
	if name == "" {
		return nil, newError(KindInvalidArgument, "commit sandbox %s: a template name is required", sandboxID)
	}
	body := api.SandboxCommitRequest{
		Name:       name,
		CpuCount:   positive(opts.CPUCount),
		MemoryMB:   positive(opts.MemoryMB),
		DiskSizeMB: positive(opts.DiskGB * 1024),
	}
	var out api.TemplateRequestResponse
	if _, _, err := resolveOptions(&opts.Options).do(ctx, restCall{
		method: http.MethodPost, path: sandboxPath(sandboxID) + "/commit", body: body, out: &out,
		what: "commit sandbox " + sandboxID + " as template " + strconv.Quote(name),
	}); err != nil {
		return nil, err
	}
	if !boolOr(opts.Wait, true) {
		// Accepted: the build runs on the server; follow it with GetBuildStatus.
		return GetBuildStatus(ctx, out.TemplateID, out.BuildID, &BuildStatusOptions{Options: opts.Options, Limit: 1})
	}
	return WaitForBuild(
		ctx,
		out.TemplateID,
		out.BuildID,
		&WaitOptions{Options: opts.Options, PollInterval: opts.PollInterval, OnLog: opts.OnLog},
	)
}
