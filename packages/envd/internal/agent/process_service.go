package agent

// The process.Process Connect service. Start's deadline (Connect-Timeout-Ms, grpc-timeout) is the process's lifetime,
// as in E2B's envd: when it passes, the process group is killed whether or not the client is still connected. A client
// that merely goes away (stream canceled) leaves the process running; Connect re-attaches to it.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/creack/pty"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/process"
)

type processService struct{ a *Agent }

func errTimedOut() error {
	return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the command's timeout expired and it was killed"))
}

// keepaliveInterval reads the client's `Keepalive-Ping-Interval` (seconds); 0 = none.
func keepaliveInterval(h http.Header) time.Duration {
	if v, err := strconv.Atoi(h.Get("Keepalive-Ping-Interval")); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return 0
}

// relay sends the subscriber's events until the end event (nil), the stream's end (its context error) or a failed send.
// For the Start stream (ownsDeadline), a deadline kills the process and is reported as DeadlineExceeded.
func relay(
	ctx context.Context,
	p *process,
	sub *subscriber,
	keepalive time.Duration,
	ownsDeadline bool,
	send func(*pb.ProcessEvent) error,
) error {
	var tick <-chan time.Time
	if keepalive > 0 {
		t := time.NewTicker(keepalive)
		defer t.Stop()
		tick = t.C
	}
	for {
		for _, e := range sub.drain() {
			if e.GetEnd() != nil && ownsDeadline && p.isTimedOut() {
				return errTimedOut()
			}
			if err := send(e); err != nil {
				return err
			}
			if e.GetEnd() != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				if ownsDeadline {
					p.killForTimeout()
					return errTimedOut()
				}
				return connect.NewError(
					connect.CodeDeadlineExceeded,
					errors.New("stream deadline exceeded (the process keeps running)"),
				)
			}
			return connect.NewError(connect.CodeCanceled, ctx.Err())
		case <-sub.notify:
		case <-tick:
			if err := send(&pb.ProcessEvent{
				Event: &pb.ProcessEvent_Keepalive{Keepalive: &pb.ProcessEvent_KeepAlive{}},
			}); err != nil {
				return err
			}
		}
	}
}

func (s *processService) Start(
	ctx context.Context,
	req *connect.Request[pb.StartRequest],
	out *connect.ServerStream[pb.StartResponse],
) error {
	u, err := s.a.userFromHeader(req.Header())
	if err != nil {
		return err
	}
	var lifetime time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if lifetime = time.Until(dl); lifetime <= 0 {
			return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the request's deadline has already passed"))
		}
	}
	p, sub, err := s.a.spawn(spawnRequest{user: u, msg: req.Msg, lifetime: lifetime})
	if err != nil {
		return err
	}
	defer p.unsubscribe(sub)
	return relay(ctx, p, sub, keepaliveInterval(req.Header()), true, func(e *pb.ProcessEvent) error {
		return out.Send(&pb.StartResponse{Event: e})
	})
}

func (s *processService) Connect(
	ctx context.Context,
	req *connect.Request[pb.ConnectRequest],
	out *connect.ServerStream[pb.ConnectResponse],
) error {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return err
	}
	sub := p.subscribe()
	if sub == nil {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("process with pid %d has already ended", p.pid))
	}
	defer p.unsubscribe(sub)
	start := &pb.ProcessEvent{Event: &pb.ProcessEvent_Start{Start: &pb.ProcessEvent_StartEvent{Pid: p.pid}}}
	if err := out.Send(&pb.ConnectResponse{Event: start}); err != nil {
		return err
	}
	return relay(ctx, p, sub, keepaliveInterval(req.Header()), false, func(e *pb.ProcessEvent) error {
		return out.Send(&pb.ConnectResponse{Event: e})
	})
}

func (s *processService) List(
	ctx context.Context,
	req *connect.Request[pb.ListRequest],
) (*connect.Response[pb.ListResponse], error) {
	procs := s.a.procs.list()
	slices.SortFunc(procs, func(x, y *process) int { return int(x.pid) - int(y.pid) })
	res := &pb.ListResponse{}
	for _, p := range procs {
		res.Processes = append(res.Processes, p.info())
	}
	return connect.NewResponse(res), nil
}

// writeInput writes stdin or PTY bytes (either field works for either kind of process).
func writeInput(p *process, in *pb.ProcessInput) error {
	var data []byte
	switch v := in.GetInput().(type) {
	case *pb.ProcessInput_Stdin:
		data = v.Stdin
	case *pb.ProcessInput_Pty:
		data = v.Pty
	default:
		return connect.NewError(connect.CodeInvalidArgument, errors.New("input (stdin or pty) is required"))
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	if p.stdin == nil {
		return connect.NewError(
			connect.CodeFailedPrecondition,
			errors.New("the process was started without stdin, or its stdin is closed"),
		)
	}
	if _, err := p.stdin.Write(data); err != nil {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("writing to the process failed: %w", err))
	}
	return nil
}

func (s *processService) SendInput(
	ctx context.Context,
	req *connect.Request[pb.SendInputRequest],
) (*connect.Response[pb.SendInputResponse], error) {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if err := writeInput(p, req.Msg.GetInput()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SendInputResponse{}), nil
}

func (s *processService) StreamInput(
	ctx context.Context,
	in *connect.ClientStream[pb.StreamInputRequest],
) (*connect.Response[pb.StreamInputResponse], error) {
	var p *process
	for in.Receive() {
		switch e := in.Msg().GetEvent().(type) {
		case *pb.StreamInputRequest_Start:
			found, err := s.a.procs.get(e.Start.GetProcess())
			if err != nil {
				return nil, err
			}
			p = found
		case *pb.StreamInputRequest_Data:
			if p == nil {
				return nil, connect.NewError(connect.CodeFailedPrecondition,
					errors.New("the first message must select the process (start)"))
			}
			if err := writeInput(p, e.Data.GetInput()); err != nil {
				return nil, err
			}
		}
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.StreamInputResponse{}), nil
}

func (s *processService) SendSignal(
	ctx context.Context,
	req *connect.Request[pb.SendSignalRequest],
) (*connect.Response[pb.SendSignalResponse], error) {
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

func (s *processService) CloseStdin(
	ctx context.Context,
	req *connect.Request[pb.CloseStdinRequest],
) (*connect.Response[pb.CloseStdinResponse], error) {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if p.pty != nil {
		return nil, connect.NewError(
			connect.CodeFailedPrecondition,
			errors.New("a PTY's input cannot be closed; send EOF (0x04) instead"),
		)
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
	return connect.NewResponse(&pb.CloseStdinResponse{}), nil
}

func (s *processService) Update(
	ctx context.Context,
	req *connect.Request[pb.UpdateRequest],
) (*connect.Response[pb.UpdateResponse], error) {
	p, err := s.a.procs.get(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if sz := req.Msg.GetPty().GetSize(); sz != nil {
		if p.pty == nil {
			return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the process has no PTY"))
		}
		if sz.Cols == 0 || sz.Rows == 0 || sz.Cols > 0xffff || sz.Rows > 0xffff {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("PTY size needs 1..65535 cols and rows"))
		}
		if err := pty.Setsize(p.pty, &pty.Winsize{Cols: uint16(sz.Cols), Rows: uint16(sz.Rows)}); err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
	}
	return connect.NewResponse(&pb.UpdateResponse{}), nil
}
