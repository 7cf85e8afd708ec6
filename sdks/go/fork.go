package tensorbox

// Fork: live copies of a running sandbox (POST /sandboxes/{id}/fork; it keeps running). The server answers one
// result per copy, a sandbox or the error that copy hit; as the TypeScript SDK does, any error kills the copies that
// did start and returns the first error, so nothing is left running half-forked.

import (
	"context"
	"net/http"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// ForkOptions configures Fork. A nil *ForkOptions makes one copy with the server's default timeout.
type ForkOptions struct {
	// Count is the number of copies (default 1).
	Count int
	// Timeout of each copy (default: the server's).
	Timeout time.Duration
}

// Fork makes live copies of the sandbox: each starts with its memory, processes and files.
//
//	copies, err := sbx.Fork(ctx, &tensorbox.ForkOptions{Count: 2})
func (s *Sandbox) Fork(ctx context.Context, opts *ForkOptions) ([]*Sandbox, error) {
	if opts == nil {
		opts = &ForkOptions{}
	}
	what := "fork sandbox " + s.SandboxID
	if opts.Count < 0 || opts.Timeout < 0 {
		return nil, newError(KindInvalidArgument, "%s: count and timeout must not be negative", what)
	}
	body := api.SandboxForkRequest{}
	if opts.Count > 0 {
		body.Count = ptr(int32(opts.Count))
	}
	if opts.Timeout > 0 {
		body.Timeout = ptr(seconds(opts.Timeout))
	}
	var results []api.SandboxForkResult
	call := restCall{
		method: http.MethodPost,
		path:   sandboxPath(s.SandboxID) + "/fork",
		body:   body,
		out:    &results,
		what:   what,
	}
	if _, _, err := s.conn.do(ctx, call); err != nil {
		return nil, err
	}
	var failed *api.Error
	for i := range results {
		if results[i].Error != nil && failed == nil {
			failed = results[i].Error
		}
	}
	out := make([]*Sandbox, 0, len(results))
	for i := range results {
		if sb := results[i].Sandbox; sb != nil {
			if failed != nil {
				_, _ = KillByID(context.WithoutCancel(ctx), sb.SandboxID, s.conn.options())
				continue
			}
			out = append(out, newSandbox(sb, s.conn))
		}
	}
	if failed != nil {
		return nil, &SandboxError{
			Kind:    kindOfStatus(int(failed.Code)),
			Message: what + ": " + failed.Message,
			Status:  int(failed.Code),
		}
	}
	return out, nil
}
