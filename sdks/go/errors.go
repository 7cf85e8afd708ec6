package tensorbox

// Errors: one base type (*SandboxError) with a Kind, sentinel values to test kinds with errors.Is, and the only two
// places where wire errors become SDK errors — fromHTTP (REST and the agent's HTTP routes) and fromConnect (the
// agent's Connect-RPC services).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// Kind classifies an error; compare with errors.Is(err, ErrNotFound) and friends rather than reading it directly.
type Kind string

// The error kinds. Their names follow the conformance suite's (NotFound, InvalidArgument, …).
const (
	// KindNotFound: a sandbox, template, file or process does not exist.
	KindNotFound Kind = "not_found"
	// KindInvalidArgument: the request is malformed or a value is out of range.
	KindInvalidArgument Kind = "invalid_argument"
	// KindAuthentication: the API key (or the sandbox's access token) is missing or wrong.
	KindAuthentication Kind = "authentication"
	// KindPermissionDenied: access to a path or route is forbidden.
	KindPermissionDenied Kind = "permission_denied"
	// KindConflict: the operation conflicts with the current state (a paused sandbox paused again, a directory that
	// exists).
	KindConflict Kind = "conflict"
	// KindTimeout: the operation or command ran past its deadline.
	KindTimeout Kind = "timeout"
	// KindUnavailable: the sandbox or server cannot be reached (killed, timed out, or the network failed).
	KindUnavailable Kind = "unavailable"
	// KindRateLimit: the server rate-limits the caller or a quota is exhausted.
	KindRateLimit Kind = "rate_limit"
	// KindNotEnoughSpace: the sandbox's disk is full.
	KindNotEnoughSpace Kind = "not_enough_space"
	// KindCommandExit: a command exited with a non-zero code (the error is a *CommandExitError).
	KindCommandExit Kind = "command_exit"
	// KindBuild: a template build failed (the error is a *BuildError).
	KindBuild Kind = "build"
	// KindInternal: anything else the server or agent reported.
	KindInternal Kind = "internal"
)

// Sentinels for errors.Is; each matches every *SandboxError of its kind.
var (
	ErrNotFound         = &SandboxError{Kind: KindNotFound}
	ErrInvalidArgument  = &SandboxError{Kind: KindInvalidArgument}
	ErrAuthentication   = &SandboxError{Kind: KindAuthentication}
	ErrPermissionDenied = &SandboxError{Kind: KindPermissionDenied}
	ErrConflict         = &SandboxError{Kind: KindConflict}
	ErrTimeout          = &SandboxError{Kind: KindTimeout}
	ErrUnavailable      = &SandboxError{Kind: KindUnavailable}
	ErrRateLimit        = &SandboxError{Kind: KindRateLimit}
	ErrNotEnoughSpace   = &SandboxError{Kind: KindNotEnoughSpace}
	ErrCommandExit      = &SandboxError{Kind: KindCommandExit}
	ErrBuild            = &SandboxError{Kind: KindBuild}
	ErrInternal         = &SandboxError{Kind: KindInternal}
)

// SandboxError is the base of every error the SDK returns.
type SandboxError struct {
	Kind    Kind
	Message string
	// Status is the HTTP status that carried the error, 0 when there was none.
	Status int
	// Cause is the underlying error (a transport error, a context error, a connect.Error), if any.
	Cause error
}

func (e *SandboxError) Error() string {
	if e.Message == "" {
		return string(e.Kind)
	}
	return e.Message
}

// Is makes errors.Is(err, ErrNotFound) true for every error of that kind.
func (e *SandboxError) Is(target error) bool {
	t, ok := target.(*SandboxError)
	return ok && t.Kind == e.Kind && t.Message == "" && t.Cause == nil
}

func (e *SandboxError) Unwrap() error { return e.Cause }

func newError(kind Kind, format string, args ...any) *SandboxError {
	return &SandboxError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// CommandExitError is returned when a command exits with a non-zero code; it still carries the output.
type CommandExitError struct {
	SandboxError
	ExitCode int
	Stdout   string
	Stderr   string
	// ErrorMessage is the agent's note when the process did not exit normally (e.g. killed by a signal).
	ErrorMessage string
}

// Unwrap exposes the embedded *SandboxError, so errors.As(err, &sbxErr) and errors.Is(err, ErrCommandExit) work.
func (e *CommandExitError) Unwrap() error { return &e.SandboxError }

func newCommandExitError(r *CommandResult) *CommandExitError {
	msg := fmt.Sprintf("command exited with code %d", r.ExitCode)
	if r.Error != "" {
		msg += ": " + r.Error
	}
	if r.Stderr != "" {
		tail := r.Stderr
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		msg += "\n" + tail
	}
	return &CommandExitError{
		SandboxError: SandboxError{Kind: KindCommandExit, Message: msg},
		ExitCode:     r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr, ErrorMessage: r.Error,
	}
}

// BuildError is returned when a template build ends with status error; Reason says why and which step failed.
type BuildError struct {
	SandboxError
	TemplateID string
	BuildID    string
	Reason     BuildReason
}

// Unwrap exposes the embedded *SandboxError, so errors.Is(err, ErrBuild) works.
func (e *BuildError) Unwrap() error { return &e.SandboxError }

func newBuildError(b *TemplateBuild) *BuildError {
	r := BuildReason{Message: "see the build's logs"}
	if b.Reason != nil {
		r = *b.Reason
	}
	msg := fmt.Sprintf("build %s of template %s failed", b.BuildID, b.TemplateID)
	if r.Step != "" {
		msg += fmt.Sprintf(" at step %q", r.Step)
	}
	if r.ExitCode != 0 {
		msg += fmt.Sprintf(" (exit code %d)", r.ExitCode)
	}
	msg += ": " + r.Message
	return &BuildError{
		SandboxError: SandboxError{Kind: KindBuild, Message: msg},
		TemplateID:   b.TemplateID,
		BuildID:      b.BuildID,
		Reason:       r,
	}
}

// kindOfStatus is the one HTTP status → kind table.
func kindOfStatus(status int) Kind {
	switch status {
	case http.StatusBadRequest:
		return KindInvalidArgument
	case http.StatusUnauthorized:
		return KindAuthentication
	case http.StatusForbidden:
		return KindPermissionDenied
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusConflict:
		return KindConflict
	case http.StatusTooManyRequests:
		return KindRateLimit
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return KindUnavailable
	case http.StatusGatewayTimeout:
		return KindTimeout
	case http.StatusInsufficientStorage:
		return KindNotEnoughSpace
	default:
		return KindInternal
	}
}

// fromHTTP maps an error response (body `{code, message}` or plain text) to a *SandboxError; what names the
// operation for the message.
func fromHTTP(res *http.Response, what string) *SandboxError {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	msg := strings.TrimSpace(string(raw))
	var body struct {
		Message   string `json:"message"`
		ErrorCode string `json:"error_code"`
	}
	kind := kindOfStatus(res.StatusCode)
	if json.Unmarshal(raw, &body) == nil {
		if body.Message != "" {
			msg = body.Message
		}
		// The ingress answers a missing sandbox with 502 like E2B's edge, and names the kind in error_code.
		if body.ErrorCode == string(KindNotFound) {
			kind = KindNotFound
		}
	}
	if msg == "" {
		msg = res.Status
	}
	return &SandboxError{Kind: kind, Message: what + ": " + msg, Status: res.StatusCode}
}

// fromTransport maps a failure to get any response at all (network, deadline, cancellation).
func fromTransport(err error, what string) *SandboxError {
	var se *SandboxError
	if errors.As(err, &se) {
		return se
	}
	kind := KindUnavailable
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		kind = KindTimeout
	}
	return &SandboxError{Kind: kind, Message: what + ": " + err.Error(), Cause: err}
}

// fromConnect maps an error of an agent Connect-RPC call; errors that already are SDK errors pass through.
func fromConnect(err error, what string) error {
	if err == nil {
		return nil
	}
	var se *SandboxError
	if errors.As(err, &se) {
		return se
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return fromTransport(err, what)
	}
	kind := KindInternal
	switch ce.Code() {
	case connect.CodeInvalidArgument:
		kind = KindInvalidArgument
	case connect.CodeUnauthenticated:
		kind = KindAuthentication
	case connect.CodePermissionDenied:
		kind = KindPermissionDenied
	case connect.CodeNotFound:
		kind = KindNotFound
	case connect.CodeAlreadyExists, connect.CodeFailedPrecondition:
		kind = KindConflict
	case connect.CodeResourceExhausted:
		kind = KindNotEnoughSpace
	case connect.CodeDeadlineExceeded, connect.CodeCanceled:
		kind = KindTimeout
	case connect.CodeUnavailable:
		kind = KindUnavailable
	}
	return &SandboxError{Kind: kind, Message: what + ": " + ce.Message(), Cause: err}
}
