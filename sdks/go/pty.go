package tensorbox

// Pty: interactive terminals on a pseudo-terminal in the sandbox (the agent's process service with a PTY), for
// full-screen programs. Output arrives through OnData; the handle sends keystrokes, resizes and kills.

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/process"
)

// Pty opens terminals in one sandbox; use it as sandbox.Pty.
type Pty struct{ t *envdTarget }

// PtyOptions configures Pty.Create.
type PtyOptions struct {
	Cols, Rows uint32
	// OnData receives the terminal's output (called from one goroutine, in order).
	OnData func([]byte)
	Envs   map[string]string
	Cwd    string
	// User to run as (default "user").
	User string
	// Cmd is the program to run (default: an interactive login bash).
	Cmd string
	// Timeout ends the session after this long (default: never).
	Timeout time.Duration
	// RequestTimeout bounds each control call of the handle (SendInput, Resize, Kill); default 60 s.
	RequestTimeout time.Duration
}

// PtyHandle is a running terminal session.
type PtyHandle struct {
	// PID is the terminal program's process ID inside the sandbox.
	PID uint32

	t              *envdTarget
	user           string
	requestTimeout time.Duration
	cancel         context.CancelFunc
	done           chan struct{}

	mu           sync.Mutex
	exitCode     int
	err          error
	disconnected bool
}

// PtyConnectOptions configures Pty.Connect.
type PtyConnectOptions struct {
	// OnData receives the terminal's output from now on (called from one goroutine, in order).
	OnData func([]byte)
	// User the handle's calls act as (default "user").
	User string
	// Timeout stops listening after this long (the terminal keeps running; default: never).
	Timeout time.Duration
	// RequestTimeout bounds each control call of the handle (SendInput, Resize, Kill); default 60 s.
	RequestTimeout time.Duration
}

// Connect re-attaches to a running terminal by its PID (the agent's process Connect): output from now on goes to
// OnData, and the handle sends input, resizes and kills like Create's. A PID that runs nothing is a KindNotFound error.
//
//	pty.Disconnect()
//	again, err := sbx.Pty.Connect(ctx, pty.PID, &tensorbox.PtyConnectOptions{
//		OnData: func(b []byte) { os.Stdout.Write(b) },
//	})
func (p *Pty) Connect(ctx context.Context, pid uint32, opts *PtyConnectOptions) (*PtyHandle, error) {
	if opts == nil {
		opts = &PtyConnectOptions{}
	}
	streamCtx, cancel := detached(ctx, opts.Timeout)
	req := streamRequest(p.t, &process.ConnectRequest{Process: pidSelector(pid)}, opts.User)
	_, stream, err := awaitStart(ctx, cancel, func() (*connect.ServerStreamForClient[process.ConnectResponse], error) {
		return p.t.process.Connect(streamCtx, req)
	})
	if err != nil {
		return nil, err
	}
	return p.handle(pid, opts.User, opts.RequestTimeout, cancel, stream, opts.OnData), nil
}

func (p *Pty) handle(
	pid uint32,
	user string,
	requestTimeout time.Duration,
	cancel context.CancelFunc,
	s processStream,
	onData func([]byte),
) *PtyHandle {
	h := &PtyHandle{
		PID:            pid,
		t:              p.t,
		user:           user,
		requestTimeout: requestTimeout,
		cancel:         cancel,
		done:           make(chan struct{}),
	}
	if h.requestTimeout <= 0 {
		h.requestTimeout = defaultRequestTimeout
	}
	go h.consume(s, onData)
	return h
}

// Disconnect stops receiving output (Wait then returns -1 and no error); the terminal keeps running and
// Pty.Connect attaches again.
func (h *PtyHandle) Disconnect() {
	h.mu.Lock()
	h.disconnected = true
	h.mu.Unlock()
	h.cancel()
}

// Create starts a terminal session.
//
//	pty, err := sbx.Pty.Create(ctx, &tensorbox.PtyOptions{
//		Cols: 120, Rows: 40, OnData: func(b []byte) { os.Stdout.Write(b) },
//	})
func (p *Pty) Create(ctx context.Context, opts *PtyOptions) (*PtyHandle, error) {
	if opts == nil {
		opts = &PtyOptions{}
	}
	cols, rows := opts.Cols, opts.Rows
	if cols == 0 {
		cols = 80
	}
	if rows == 0 {
		rows = 24
	}
	cfg := &process.ProcessConfig{
		Cmd:  "/bin/bash",
		Args: []string{"-i", "-l"},
		Envs: map[string]string{"TERM": "xterm-256color"},
		Cwd:  optString(opts.Cwd),
	}
	if opts.Cmd != "" {
		cfg.Cmd, cfg.Args = opts.Cmd, nil
	}
	for k, v := range opts.Envs {
		cfg.Envs[k] = v
	}
	streamCtx, cancel := detached(ctx, opts.Timeout)
	req := streamRequest(
		p.t,
		&process.StartRequest{Process: cfg, Pty: &process.PTY{Size: &process.PTY_Size{Cols: cols, Rows: rows}}},
		opts.User,
	)
	pid, stream, err := awaitStart(ctx, cancel, func() (*connect.ServerStreamForClient[process.StartResponse], error) {
		return p.t.process.Start(streamCtx, req)
	})
	if err != nil {
		return nil, err
	}
	return p.handle(pid, opts.User, opts.RequestTimeout, cancel, stream, opts.OnData), nil
}

func (h *PtyHandle) consume(s processStream, onData func([]byte)) {
	defer close(h.done)
	defer h.cancel()
	defer s.Close()
	for s.Receive() {
		ev := s.Event()
		if d := ev.GetData(); d != nil && d.GetPty() != nil && onData != nil {
			onData(d.GetPty())
		} else if end := ev.GetEnd(); end != nil {
			h.mu.Lock()
			h.exitCode = int(end.GetExitCode())
			h.mu.Unlock()
			return
		}
	}
	err := s.Err()
	if err == nil {
		err = errNoExit
	}
	h.mu.Lock()
	if h.disconnected {
		h.exitCode = -1
	} else {
		h.err = fromConnect(err, "terminal")
	}
	h.mu.Unlock()
}

// IsOpen reports whether the session is still running.
func (h *PtyHandle) IsOpen() bool {
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// Wait blocks until the session ends and returns the program's exit code.
func (h *PtyHandle) Wait(ctx context.Context) (int, error) {
	select {
	case <-h.done:
	case <-ctx.Done():
		return 0, fromTransport(ctx.Err(), "wait for terminal")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exitCode, h.err
}

func (h *PtyHandle) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), h.requestTimeout)
}

// SendInput sends keystrokes to the terminal.
func (h *PtyHandle) SendInput(data []byte) error {
	ctx, cancel := h.callCtx()
	defer cancel()
	_, err := h.t.process.SendInput(ctx, rpcRequest(h.t, &process.SendInputRequest{
		Process: pidSelector(h.PID), Input: &process.ProcessInput{Input: &process.ProcessInput_Pty{Pty: data}},
	}, h.user))
	return fromConnect(err, "send terminal input")
}

// Resize changes the terminal's size.
func (h *PtyHandle) Resize(cols, rows uint32) error {
	ctx, cancel := h.callCtx()
	defer cancel()
	_, err := h.t.process.Update(ctx, rpcRequest(h.t, &process.UpdateRequest{
		Process: pidSelector(h.PID), Pty: &process.PTY{Size: &process.PTY_Size{Cols: cols, Rows: rows}},
	}, h.user))
	return fromConnect(err, "resize terminal")
}

// Kill ends the session (SIGKILL) and waits for it to close; false when it had already ended.
func (h *PtyHandle) Kill() (bool, error) {
	ctx, cancel := h.callCtx()
	defer cancel()
	ok, err := sendSignal(ctx, h.t, h.PID, process.Signal_SIGNAL_SIGKILL)
	if err != nil || !ok {
		return ok, err
	}
	select {
	case <-h.done:
	case <-ctx.Done():
		h.cancel()
	}
	return true, nil
}
