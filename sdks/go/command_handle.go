package tensorbox

// CommandHandle: a running command — its output as it arrives, its exit, and the controls to feed or stop it.
// Disconnect stops following the output and leaves the process running; Commands.Connect attaches again.

import (
	"context"
	"strings"
	"sync"
)

// CommandHandle follows one command started by RunBackground (or Run, internally) or attached with Connect.
type CommandHandle struct {
	// PID is the process ID inside the sandbox.
	PID uint32

	cmds   *Commands
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	result *CommandResult
	err    error
}

func newCommandHandle(
	pid uint32,
	s processStream,
	cancel context.CancelFunc,
	cmds *Commands,
	opts *CommandOptions,
) *CommandHandle {
	h := &CommandHandle{PID: pid, cmds: cmds, cancel: cancel, done: make(chan struct{})}
	go h.consume(s, opts.OnStdout, opts.OnStderr)
	return h
}

func (h *CommandHandle) consume(s processStream, onStdout, onStderr func(string)) {
	defer close(h.done)
	defer h.cancel()
	defer s.Close()
	for s.Receive() {
		ev := s.Event()
		if d := ev.GetData(); d != nil {
			if out := d.GetStdout(); out != nil {
				h.mu.Lock()
				h.stdout.Write(out)
				h.mu.Unlock()
				if onStdout != nil {
					onStdout(string(out))
				}
			} else if out := d.GetStderr(); out != nil {
				h.mu.Lock()
				h.stderr.Write(out)
				h.mu.Unlock()
				if onStderr != nil {
					onStderr(string(out))
				}
			}
		} else if end := ev.GetEnd(); end != nil {
			h.mu.Lock()
			h.result = &CommandResult{ExitCode: int(end.GetExitCode()), Stdout: h.stdout.String(), Stderr: h.stderr.String(),
				Error: end.GetError()}
			h.mu.Unlock()
			return
		}
	}
	err := s.Err()
	if err == nil {
		err = errNoExit
	}
	h.mu.Lock()
	h.err = fromConnect(err, "command")
	h.mu.Unlock()
}

// Wait blocks until the command ends (or ctx does) and returns its result; a non-zero exit code is a
// *CommandExitError. Ending ctx only stops waiting; the command keeps running.
func (h *CommandHandle) Wait(ctx context.Context) (*CommandResult, error) {
	select {
	case <-h.done:
	case <-ctx.Done():
		return nil, fromTransport(ctx.Err(), "wait for command")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return nil, h.err
	}
	r := *h.result
	if r.ExitCode != 0 {
		return &r, newCommandExitError(&r)
	}
	return &r, nil
}

// Stdout is the output received so far.
func (h *CommandHandle) Stdout() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stdout.String()
}

// Stderr is the error output received so far.
func (h *CommandHandle) Stderr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stderr.String()
}

// ExitCode is the exit code once the command has ended; ok is false before that.
func (h *CommandHandle) ExitCode() (code int, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.result == nil {
		return 0, false
	}
	return h.result.ExitCode, true
}

// Kill sends SIGKILL to the command; false when it had already ended.
func (h *CommandHandle) Kill(ctx context.Context) (bool, error) {
	return h.cmds.Kill(ctx, h.PID)
}

// SendStdin writes data to the command's stdin.
func (h *CommandHandle) SendStdin(ctx context.Context, data []byte) error {
	return h.cmds.SendStdin(ctx, h.PID, data)
}

// CloseStdin closes the command's stdin (EOF).
func (h *CommandHandle) CloseStdin(ctx context.Context) error {
	return h.cmds.CloseStdin(ctx, h.PID)
}

// Disconnect stops following the command's output; the command keeps running in the sandbox.
func (h *CommandHandle) Disconnect() {
	h.cancel()
}
