package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/creack/pty"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/process"
)

// process is one started command. Output goes to every subscriber; the Start stream subscribes before the command
// starts, so it sees all of it. A process leaves the table once it has ended and its end was published.
type process struct {
	pid    uint32
	tag    *string
	config *pb.ProcessConfig
	cmd     *exec.Cmd
	pty     *os.File
	outputs []*os.File

	mu     sync.Mutex
	stdin  io.WriteCloser
	subs   map[*subscriber]struct{}
	ended  bool
	endEvt *pb.ProcessEvent
}

// subscriber is an unbounded queue of events for one stream (a slow client never blocks the process).
type subscriber struct {
	mu     sync.Mutex
	queue  []*pb.ProcessEvent
	notify chan struct{}
}

func newSubscriber() *subscriber { return &subscriber{notify: make(chan struct{}, 1)} }

func (s *subscriber) push(e *pb.ProcessEvent) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *subscriber) drain() []*pb.ProcessEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func (p *process) subscribe() *subscriber {
	s := newSubscriber()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		s.push(p.endEvt)
		return s
	}
	p.subs[s] = struct{}{}
	return s
}

func (p *process) unsubscribe(s *subscriber) {
	p.mu.Lock()
	delete(p.subs, s)
	p.mu.Unlock()
}

func (p *process) publish(e *pb.ProcessEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for s := range p.subs {
		s.push(e)
	}
	if e.GetEnd() != nil {
		p.ended = true
		p.endEvt = e
	}
}

func (p *process) signal(sig syscall.Signal) error {
	// Every process runs in its own session: signal the whole group.
	if err := syscall.Kill(-int(p.pid), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return syscall.Kill(int(p.pid), sig)
	}
	return nil
}

type processTable struct {
	mu    sync.Mutex
	procs map[uint32]*process
}

func newProcessTable() *processTable { return &processTable{procs: map[uint32]*process{}} }

func (t *processTable) get(sel *pb.ProcessSelector) (*process, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s := sel.GetSelector().(type) {
	case *pb.ProcessSelector_Pid:
		if p, ok := t.procs[s.Pid]; ok {
			return p, nil
		}
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with pid %d not found", s.Pid))
	case *pb.ProcessSelector_Tag:
		for _, p := range t.procs {
			if p.tag != nil && *p.tag == s.Tag {
				return p, nil
			}
		}
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("process with tag '%s' not found", s.Tag))
	}
	return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("process selector (pid or tag) is required"))
}

type processService struct{ a *Agent }

func (s *processService) start(ctx context.Context, req *pb.StartRequest, h http.Header) (*process, *subscriber, error) {
	a := s.a
	u, err := a.userFromHeader(h)
	if err != nil {
		return nil, nil, err
	}
	cfg := req.GetProcess()
	if cfg == nil || cfg.GetCmd() == "" {
		return nil, nil, connect.NewError(connect.CodeInvalidArgument, errors.New("process.cmd is required"))
	}
	cwd := a.workdir(u)
	if cfg.Cwd != nil && *cfg.Cwd != "" {
		cwd = resolvePath(u, *cfg.Cwd)
	}
	var statErr error
	_ = asUser(u, func() error {
		st, err := os.Stat(cwd)
		if err == nil && !st.IsDir() {
			err = fmt.Errorf("cwd '%s' is not a directory", cwd)
		}
		statErr = err
		return nil
	})
	if statErr != nil {
		if errors.Is(statErr, os.ErrNotExist) {
			return nil, nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("cwd '%s' does not exist", cwd))
		}
		return nil, nil, connect.NewError(connect.CodeInvalidArgument, statErr)
	}

	cmd := exec.Command(cfg.GetCmd(), cfg.GetArgs()...)
	cmd.Dir = cwd
	cmd.Env = a.baseEnv(u)
	for k, v := range cfg.GetEnvs() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cred := &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	p := &process{tag: req.Tag, config: cfg, cmd: cmd, subs: map[*subscriber]struct{}{}}
	sub := newSubscriber()
	p.subs[sub] = struct{}{}

	var readers sync.WaitGroup
	pump := func(r io.Reader, wrap func([]byte) *pb.ProcessEvent_DataEvent) {
		defer readers.Done()
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				chunk := make([]byte, n)
				copy(chunk, buf[:n])
				p.publish(&pb.ProcessEvent{Event: &pb.ProcessEvent_Data{Data: wrap(chunk)}})
			}
			if err != nil {
				return
			}
		}
	}

	if req.Pty != nil {
		cmd.Env = append(cmd.Env, "TERM=xterm-256color")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setsid: true, Setctty: true}
		size := &pty.Winsize{Cols: 80, Rows: 24}
		if sz := req.Pty.GetSize(); sz != nil && sz.Cols > 0 && sz.Rows > 0 {
			size = &pty.Winsize{Cols: uint16(sz.Cols), Rows: uint16(sz.Rows)}
		}
		f, err := pty.StartWithAttrs(cmd, size, cmd.SysProcAttr)
		if err != nil {
			return nil, nil, startError(err)
		}
		p.pty = f
		p.stdin = f
		readers.Add(1)
		go pump(f, func(b []byte) *pb.ProcessEvent_DataEvent {
			return &pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Pty{Pty: b}}
		})
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setsid: true}
		// Plain pipes (not exec's copying ones), so that a daemon that keeps our stdout open cannot hold back the end.
		outR, outW, err := os.Pipe()
		if err != nil {
			return nil, nil, startError(err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return nil, nil, startError(err)
		}
		cmd.Stdout, cmd.Stderr = outW, errW
		if req.Stdin == nil || req.GetStdin() {
			w, err := cmd.StdinPipe()
			if err != nil {
				return nil, nil, startError(err)
			}
			p.stdin = w
		}
		err = cmd.Start()
		outW.Close()
		errW.Close()
		if err != nil {
			outR.Close()
			errR.Close()
			return nil, nil, startError(err)
		}
		p.outputs = []*os.File{outR, errR}
		readers.Add(2)
		go pump(outR, func(b []byte) *pb.ProcessEvent_DataEvent {
			return &pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Stdout{Stdout: b}}
		})
		go pump(errR, func(b []byte) *pb.ProcessEvent_DataEvent {
			return &pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Stderr{Stderr: b}}
		})
	}
	p.pid = uint32(cmd.Process.Pid)
	sub.push(&pb.ProcessEvent{Event: &pb.ProcessEvent_Start{Start: &pb.ProcessEvent_StartEvent{Pid: p.pid}}})
	a.procs.mu.Lock()
	a.procs.procs[p.pid] = p
	a.procs.mu.Unlock()

	go func() {
		waitErr := cmd.Wait()
		// Output written just before the exit is still in the pipe: read it all, but do not wait for processes that
		// inherited the output and live on (daemons started in the background).
		done := make(chan struct{})
		go func() { readers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(200 * time.Millisecond):
		}
		if p.pty != nil {
			p.pty.Close()
		}
		for _, f := range p.outputs {
			f.Close()
		}
		s.finish(p, waitErr)
	}()
	return p, sub, nil
}

func (s *processService) finish(p *process, waitErr error) {
	end := &pb.ProcessEvent_EndEvent{}
	if st := p.cmd.ProcessState; st != nil {
		end.ExitCode = int32(st.ExitCode())
		end.Exited = st.Exited()
		end.Status = st.String()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			end.ExitCode = -1
		}
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		msg := waitErr.Error()
		end.Error = &msg
	}
	s.a.procs.mu.Lock()
	delete(s.a.procs.procs, p.pid)
	s.a.procs.mu.Unlock()
	p.mu.Lock()
	if p.stdin != nil && p.pty == nil {
		p.stdin.Close()
	}
	p.mu.Unlock()
	p.publish(&pb.ProcessEvent{Event: &pb.ProcessEvent_End{End: end}})
}

func startError(err error) error {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("cannot start process: %w", err))
	}
	if errors.Is(err, os.ErrPermission) {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("cannot start process: %w", err))
	}
	return connect.NewError(connect.CodeInternal, fmt.Errorf("cannot start process: %w", err))
}

// keepaliveInterval reads the client's `Keepalive-Ping-Interval` (seconds); 0 = none.
func keepaliveInterval(h http.Header) time.Duration {
	if v, err := strconv.Atoi(h.Get("Keepalive-Ping-Interval")); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return 0
}

// stream forwards a subscriber's events to send until the process ends or ctx ends. It returns whether the
// process ended.
func stream(ctx context.Context, sub *subscriber, keepalive time.Duration, send func(*pb.ProcessEvent) error) (bool, error) {
	var tick <-chan time.Time
	if keepalive > 0 {
		t := time.NewTicker(keepalive)
		defer t.Stop()
		tick = t.C
	}
	for {
		for _, e := range sub.drain() {
			if err := send(e); err != nil {
				return false, err
			}
			if e.GetEnd() != nil {
				return true, nil
			}
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-sub.notify:
		case <-tick:
			if err := send(&pb.ProcessEvent{Event: &pb.ProcessEvent_Keepalive{Keepalive: &pb.ProcessEvent_KeepAlive{}}}); err != nil {
				return false, err
			}
		}
	}
}

func (s *processService) Start(ctx context.Context, req *connect.Request[pb.StartRequest], out *connect.ServerStream[pb.StartResponse]) error {
	p, sub, err := s.start(ctx, req.Msg, req.Header())
	if err != nil {
		return err
	}
	defer p.unsubscribe(sub)
	_, err = stream(ctx, sub, keepaliveInterval(req.Header()), func(e *pb.ProcessEvent) error {
		return out.Send(&pb.StartResponse{Event: e})
	})
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The caller's timeout ran out: the command is killed. A mere disconnect leaves it running.
		_ = p.signal(syscall.SIGKILL)
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("command timed out and was killed"))
	}
	return err
}

func (s *processService) Connect(ctx context.Context, req *connect.Request[pb.ConnectRequest], out *connect.ServerStream[pb.ConnectResponse]) error {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return err
	}
	sub := p.subscribe()
	defer p.unsubscribe(sub)
	if err := out.Send(&pb.ConnectResponse{Event: &pb.ProcessEvent{Event: &pb.ProcessEvent_Start{Start: &pb.ProcessEvent_StartEvent{Pid: p.pid}}}}); err != nil {
		return err
	}
	_, err = stream(ctx, sub, keepaliveInterval(req.Header()), func(e *pb.ProcessEvent) error {
		return out.Send(&pb.ConnectResponse{Event: e})
	})
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("stream deadline exceeded"))
	}
	return err
}

func (s *processService) List(ctx context.Context, req *connect.Request[pb.ListRequest]) (*connect.Response[pb.ListResponse], error) {
	s.a.procs.mu.Lock()
	defer s.a.procs.mu.Unlock()
	res := &pb.ListResponse{}
	for _, p := range s.a.procs.procs {
		res.Processes = append(res.Processes, &pb.ProcessInfo{Config: p.config, Pid: p.pid, Tag: p.tag})
	}
	return connect.NewResponse(res), nil
}

func (s *processService) writeInput(p *process, in *pb.ProcessInput) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var data []byte
	switch v := in.GetInput().(type) {
	case *pb.ProcessInput_Stdin:
		data = v.Stdin
	case *pb.ProcessInput_Pty:
		data = v.Pty
	default:
		return connect.NewError(connect.CodeInvalidArgument, errors.New("input (stdin or pty) is required"))
	}
	if p.stdin == nil {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("the process was started without stdin, or its stdin is closed"))
	}
	if _, err := p.stdin.Write(data); err != nil {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("writing to the process failed: %w", err))
	}
	return nil
}

func (s *processService) SendInput(ctx context.Context, req *connect.Request[pb.SendInputRequest]) (*connect.Response[pb.SendInputResponse], error) {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if err := s.writeInput(p, req.Msg.GetInput()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SendInputResponse{}), nil
}

func (s *processService) StreamInput(ctx context.Context, in *connect.ClientStream[pb.StreamInputRequest]) (*connect.Response[pb.StreamInputResponse], error) {
	var p *process
	for in.Receive() {
		msg := in.Msg()
		switch e := msg.GetEvent().(type) {
		case *pb.StreamInputRequest_Start:
			found, err := s.a.procs.get(e.Start.GetProcess())
			if err != nil {
				return nil, err
			}
			p = found
		case *pb.StreamInputRequest_Data:
			if p == nil {
				return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the first message must select the process"))
			}
			if err := s.writeInput(p, e.Data.GetInput()); err != nil {
				return nil, err
			}
		}
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.StreamInputResponse{}), nil
}

func (s *processService) SendSignal(ctx context.Context, req *connect.Request[pb.SendSignalRequest]) (*connect.Response[pb.SendSignalResponse], error) {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	var sig syscall.Signal
	switch req.Msg.GetSignal() {
	case pb.Signal_SIGNAL_SIGKILL:
		sig = syscall.SIGKILL
	case pb.Signal_SIGNAL_SIGTERM:
		sig = syscall.SIGTERM
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("signal must be SIGKILL or SIGTERM"))
	}
	if err := p.signal(sig); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&pb.SendSignalResponse{}), nil
}

func (s *processService) CloseStdin(ctx context.Context, req *connect.Request[pb.CloseStdinRequest]) (*connect.Response[pb.CloseStdinResponse], error) {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pty != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("a pty's input cannot be closed; send EOF (ctrl-d) instead"))
	}
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
	return connect.NewResponse(&pb.CloseStdinResponse{}), nil
}

func (s *processService) Update(ctx context.Context, req *connect.Request[pb.UpdateRequest]) (*connect.Response[pb.UpdateResponse], error) {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if sz := req.Msg.GetPty().GetSize(); sz != nil {
		if p.pty == nil {
			return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the process has no pty"))
		}
		if err := pty.Setsize(p.pty, &pty.Winsize{Cols: uint16(sz.Cols), Rows: uint16(sz.Rows)}); err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
	}
	return connect.NewResponse(&pb.UpdateResponse{}), nil
}
