package tensorbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

func TestKindOfStatus(t *testing.T) {
	cases := map[int]*SandboxError{
		400: ErrInvalidArgument, 401: ErrAuthentication, 403: ErrPermissionDenied, 404: ErrNotFound,
		409: ErrConflict, 429: ErrRateLimit, 502: ErrUnavailable, 503: ErrUnavailable, 504: ErrTimeout,
		507: ErrNotEnoughSpace, 500: ErrInternal, 418: ErrInternal,
	}
	for status, want := range cases {
		res := &http.Response{
			StatusCode: status,
			Status:     fmt.Sprint(status),
			Body:       io.NopCloser(strings.NewReader(`{"code":1,"message":"boom"}`)),
		}
		err := fromHTTP(res, "op")
		if !errors.Is(err, want) {
			t.Errorf("status %d: got kind %s, want %s", status, err.Kind, want.Kind)
		}
		if err.Message != "op: boom" || err.Status != status {
			t.Errorf("status %d: message %q status %d", status, err.Message, err.Status)
		}
	}
}

func TestFromHTTPPlainBody(t *testing.T) {
	res := &http.Response{
		StatusCode: 404,
		Status:     "404 Not Found",
		Body:       io.NopCloser(strings.NewReader("no such file\n")),
	}
	if err := fromHTTP(res, "read /x"); err.Message != "read /x: no such file" {
		t.Fatalf("message %q", err.Message)
	}
	res = &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Body: io.NopCloser(strings.NewReader(""))}
	if err := fromHTTP(res, "op"); err.Message != "op: 500 Internal Server Error" {
		t.Fatalf("message %q", err.Message)
	}
}

func TestFromConnect(t *testing.T) {
	cases := map[connect.Code]*SandboxError{
		connect.CodeInvalidArgument: ErrInvalidArgument, connect.CodeUnauthenticated: ErrAuthentication,
		connect.CodePermissionDenied: ErrPermissionDenied, connect.CodeNotFound: ErrNotFound,
		connect.CodeAlreadyExists: ErrConflict, connect.CodeFailedPrecondition: ErrConflict,
		connect.CodeResourceExhausted: ErrNotEnoughSpace, connect.CodeDeadlineExceeded: ErrTimeout,
		connect.CodeCanceled: ErrTimeout, connect.CodeUnavailable: ErrUnavailable, connect.CodeInternal: ErrInternal,
	}
	for code, want := range cases {
		cause := connect.NewError(code, errors.New("detail"))
		err := fromConnect(cause, "stat /x")
		if !errors.Is(err, want) {
			t.Errorf("code %s: got %v, want kind %s", code, err, want.Kind)
		}
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != code {
			t.Errorf("code %s: the connect error is not reachable through Unwrap", code)
		}
		if err.Error() != "stat /x: detail" {
			t.Errorf("code %s: message %q", code, err.Error())
		}
	}
	if fromConnect(nil, "x") != nil {
		t.Fatal("nil must stay nil")
	}
	already := newError(KindNotFound, "gone")
	if fromConnect(already, "x") != error(already) {
		t.Fatal("SDK errors must pass through unchanged")
	}
}

func TestFromTransport(t *testing.T) {
	err := fromTransport(fmt.Errorf("dial: %w", context.DeadlineExceeded), "op")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	if err := fromTransport(errors.New("connection refused"), "op"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("refused: %v", err)
	}
}

func TestSentinelsDistinguishKinds(t *testing.T) {
	err := newError(KindNotFound, "x")
	if errors.Is(err, ErrConflict) {
		t.Fatal("a not_found error matched ErrConflict")
	}
	// A specific error must not act as a sentinel for others of its kind.
	if errors.Is(newError(KindNotFound, "y"), err) {
		t.Fatal("non-sentinel error matched as a target")
	}
}

func TestCommandExitError(t *testing.T) {
	var err error = newCommandExitError(&CommandResult{ExitCode: 3, Stdout: "partial\n", Stderr: "bad\n"})
	if !errors.Is(err, ErrCommandExit) {
		t.Fatal("not ErrCommandExit")
	}
	var ce *CommandExitError
	if !errors.As(err, &ce) || ce.ExitCode != 3 || ce.Stdout != "partial\n" || ce.Stderr != "bad\n" {
		t.Fatalf("As: %+v", ce)
	}
	var se *SandboxError
	if !errors.As(err, &se) || se.Kind != KindCommandExit {
		t.Fatal("not a *SandboxError")
	}
	if !strings.Contains(err.Error(), "code 3") || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("message %q", err.Error())
	}
}
