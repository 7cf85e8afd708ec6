package tensorbox

// The agent's process streams (Start, Connect) as one shape: a sequence of ProcessEvents whose first real event is
// `start` with the PID. Shared by Commands and Pty.

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/process"
)

// processStream yields ProcessEvents; keepalives are skipped by its users.
type processStream interface {
	Receive() bool
	Event() *process.ProcessEvent
	Err() error
	Close() error
}

type eventStream[T any, PT interface {
	*T
	GetEvent() *process.ProcessEvent
}] struct {
	s *connect.ServerStreamForClient[T]
}

func (e eventStream[T, PT]) Receive() bool                { return e.s.Receive() }
func (e eventStream[T, PT]) Event() *process.ProcessEvent { return PT(e.s.Msg()).GetEvent() }
func (e eventStream[T, PT]) Err() error                   { return e.s.Err() }
func (e eventStream[T, PT]) Close() error                 { return e.s.Close() }

func streamEvents[T any, PT interface {
	*T
	GetEvent() *process.ProcessEvent
}](s *connect.ServerStreamForClient[T]) processStream {
	return eventStream[T, PT]{s}
}

// awaitStart opens a process stream and waits for its start event, giving up when ctx ends (the stream itself runs
// on its own context, which cancel ends). It returns the PID and the stream positioned after the start event.
func awaitStart[T any, PT interface {
	*T
	GetEvent() *process.ProcessEvent
}](
	ctx context.Context,
	cancel context.CancelFunc,
	open func() (*connect.ServerStreamForClient[T], error),
) (uint32, processStream, error) {
	type started struct {
		pid uint32
		s   processStream
		err error
	}
	ch := make(chan started, 1)
	go func() {
		raw, err := open()
		if err != nil {
			ch <- started{err: err}
			return
		}
		s := streamEvents[T, PT](raw)
		for s.Receive() {
			ev := s.Event()
			if st := ev.GetStart(); st != nil {
				ch <- started{pid: st.GetPid(), s: s}
				return
			}
			if ev.GetKeepalive() == nil {
				break
			}
		}
		err = s.Err()
		if err == nil {
			err = &SandboxError{Kind: KindInternal, Message: "start process: the agent did not report the process start"}
		}
		s.Close()
		ch <- started{err: err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			cancel()
			return 0, nil, fromConnect(r.err, "start process")
		}
		return r.pid, r.s, nil
	case <-ctx.Done():
		cancel()
		return 0, nil, fromTransport(ctx.Err(), "start process")
	}
}

// detached derives a context for a long-lived stream: it keeps ctx's values but not its cancellation (the stream
// outlives the call that opened it), and ends after timeout when that is positive.
func detached(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(context.WithoutCancel(ctx), timeout)
	}
	return context.WithCancel(context.WithoutCancel(ctx))
}

var errNoExit = errors.New("the process stream ended without an exit status")
