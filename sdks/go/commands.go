package tensorbox

// Commands: shell commands in the sandbox through the agent's process service. Foreground runs wait for the exit
// (a non-zero code is a *CommandExitError); background runs return a *CommandHandle.

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/process"
)

// DefaultCommandTimeout bounds a foreground command when CommandOptions.Timeout is zero.
const DefaultCommandTimeout = 60 * time.Second

// Commands runs and controls processes in one sandbox; use it as sandbox.Commands.
type Commands struct{ t *envdTarget }

// CommandOptions configures Run and RunBackground. A nil *CommandOptions means all defaults.
type CommandOptions struct {
	Envs map[string]string
	Cwd  string
	// User to run as (default "user"; "root" is allowed).
	User string
	// Timeout kills the command after this long: default 60 s in the foreground, none in the background; negative
	// means none in both.
	Timeout time.Duration
	// OnStdout and OnStderr receive output as it arrives (called from one goroutine, in order).
	OnStdout func(string)
	OnStderr func(string)
	// Stdin keeps the command's stdin open so SendStdin works (default: true in the background, false in the foreground).
	Stdin *bool
}

// CommandResult is the outcome of a command that ended.
type CommandResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
	// Error is the agent's note when the process did not exit normally (e.g. killed by a signal).
	Error string
}

// ProcessInfo describes a process the agent started that is still running.
type ProcessInfo struct {
	PID  uint32
	Tag  string
	Cmd  string
	Args []string
	Envs map[string]string
	Cwd  string
}

// Run runs cmd with /bin/bash -l -c and waits for it. A non-zero exit is a *CommandExitError (with the output); a
// command that outlives its timeout is killed and reported as ErrTimeout.
//
//	r, err := sbx.Commands.Run(ctx, "echo hello", nil) // r.Stdout == "hello\n"
func (c *Commands) Run(ctx context.Context, cmd string, opts *CommandOptions) (*CommandResult, error) {
	if opts == nil {
		opts = &CommandOptions{}
	}
	h, err := c.start(ctx, cmd, opts, false)
	if err != nil {
		return nil, err
	}
	r, err := h.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		// The caller gave up: do not leave the command running behind its back.
		h.Disconnect()
	}
	return r, err
}

// RunBackground starts cmd with /bin/bash -l -c and returns once the agent reports its PID. The command outlives
// ctx; stop it with Kill or stop following it with Disconnect.
//
//	h, err := sbx.Commands.RunBackground(ctx, "python3 -m http.server 8000", nil)
func (c *Commands) RunBackground(ctx context.Context, cmd string, opts *CommandOptions) (*CommandHandle, error) {
	if opts == nil {
		opts = &CommandOptions{}
	}
	return c.start(ctx, cmd, opts, true)
}

func (c *Commands) start(
	ctx context.Context,
	cmd string,
	opts *CommandOptions,
	background bool,
) (*CommandHandle, error) {
	timeout := opts.Timeout
	if timeout == 0 && !background {
		timeout = DefaultCommandTimeout
	}
	// The stream lives as long as the command, not as long as this call: it gets its own context, bounded by the
	// command's timeout, which connect-go also sends to the agent as the call's deadline.
	streamCtx, cancel := detached(ctx, timeout)
	stdin := boolOr(opts.Stdin, background)
	req := streamRequest(c.t, &process.StartRequest{
		Process: &process.ProcessConfig{
			Cmd:  "/bin/bash",
			Args: []string{"-l", "-c", cmd},
			Envs: opts.Envs,
			Cwd:  optString(opts.Cwd),
		},
		Stdin: &stdin,
	}, opts.User)
	pid, stream, err := awaitStart(ctx, cancel, func() (*connect.ServerStreamForClient[process.StartResponse], error) {
		return c.t.process.Start(streamCtx, req)
	})
	if err != nil {
		return nil, err
	}
	return newCommandHandle(pid, stream, cancel, c, opts), nil
}

// Connect re-attaches to a running process by PID and follows its output.
func (c *Commands) Connect(ctx context.Context, pid uint32, opts *CommandOptions) (*CommandHandle, error) {
	if opts == nil {
		opts = &CommandOptions{}
	}
	streamCtx, cancel := detached(ctx, opts.Timeout)
	req := streamRequest(c.t, &process.ConnectRequest{Process: pidSelector(pid)}, opts.User)
	_, stream, err := awaitStart(ctx, cancel, func() (*connect.ServerStreamForClient[process.ConnectResponse], error) {
		return c.t.process.Connect(streamCtx, req)
	})
	if err != nil {
		return nil, err
	}
	return newCommandHandle(pid, stream, cancel, c, opts), nil
}

// List returns the processes the agent started that are still running.
func (c *Commands) List(ctx context.Context) ([]ProcessInfo, error) {
	res, err := c.t.process.List(ctx, rpcRequest(c.t, &process.ListRequest{}, ""))
	if err != nil {
		return nil, fromConnect(err, "list processes")
	}
	out := make([]ProcessInfo, 0, len(res.Msg.GetProcesses()))
	for _, p := range res.Msg.GetProcesses() {
		cfg := p.GetConfig()
		out = append(
			out,
			ProcessInfo{
				PID:  p.GetPid(),
				Tag:  p.GetTag(),
				Cmd:  cfg.GetCmd(),
				Args: cfg.GetArgs(),
				Envs: cfg.GetEnvs(),
				Cwd:  cfg.GetCwd(),
			},
		)
	}
	return out, nil
}

// Kill sends SIGKILL to a process; false when it was not running.
func (c *Commands) Kill(ctx context.Context, pid uint32) (bool, error) {
	return sendSignal(ctx, c.t, pid, process.Signal_SIGNAL_SIGKILL)
}

// SendStdin writes data to a process's stdin (it must have been started with stdin open).
func (c *Commands) SendStdin(ctx context.Context, pid uint32, data []byte) error {
	_, err := c.t.process.SendInput(ctx, rpcRequest(c.t, &process.SendInputRequest{
		Process: pidSelector(pid), Input: &process.ProcessInput{Input: &process.ProcessInput_Stdin{Stdin: data}},
	}, ""))
	return fromConnect(err, "send stdin")
}

// CloseStdin closes a process's stdin (EOF).
func (c *Commands) CloseStdin(ctx context.Context, pid uint32) error {
	_, err := c.t.process.CloseStdin(ctx, rpcRequest(c.t, &process.CloseStdinRequest{Process: pidSelector(pid)}, ""))
	return fromConnect(err, "close stdin")
}

func sendSignal(ctx context.Context, t *envdTarget, pid uint32, sig process.Signal) (bool, error) {
	_, err := t.process.SendSignal(
		ctx,
		rpcRequest(t, &process.SendSignalRequest{Process: pidSelector(pid), Signal: sig}, ""),
	)
	if err = fromConnect(err, "signal process"); err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func pidSelector(pid uint32) *process.ProcessSelector {
	return &process.ProcessSelector{Selector: &process.ProcessSelector_Pid{Pid: pid}}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
