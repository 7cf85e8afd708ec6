package agent

// A started process and the fan-out of its events. Lifecycle: spawn registers the process in the table and publishes
// `start`; output readers publish `data`; when the process has exited and its output is drained, `end` is published and
// the process leaves the table (so List, Connect and signals answer NotFound from then on). Subscribers (the Start
// stream, Connect streams) each have an unbounded queue: a slow client never blocks the process or other clients, and
// nothing published after subscribing is lost.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/process"
)

type process struct {
	pid    uint32
	tag    *string
	config *pb.ProcessConfig
	cmd    *exec.Cmd
	pty    *os.File // PTY master, nil without a PTY

	// inMu serializes input; it is separate from mu because a write to a full stdin pipe may block for long.
	inMu  sync.Mutex
	stdin io.WriteCloser // nil when started without stdin or after CloseStdin

	mu       sync.Mutex
	subs     map[*subscriber]struct{}
	ended    bool
	timedOut bool        // killed because the Start request's deadline passed
	timer    *time.Timer // that deadline's kill
}

type subscriber struct {
	mu     sync.Mutex
	queue  []*pb.ProcessEvent
	notify chan struct{}
}

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

// subscribe returns a queue of every event published from now on; nil if the process has already ended.
func (p *process) subscribe() *subscriber {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return nil
	}
	s := &subscriber{notify: make(chan struct{}, 1)}
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
	if p.ended {
		return
	}
	for s := range p.subs {
		s.push(e)
	}
	if e.GetEnd() != nil {
		p.ended = true
	}
}

// signal sends sig to the process group (every process runs in a session of its own), or to the process alone if the
// group is gone.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-int(p.pid), sig)
	if errors.Is(err, syscall.ESRCH) {
		err = syscall.Kill(int(p.pid), sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil // exited meanwhile
	}
	return err
}

// killForTimeout is the Start deadline's action: the whole group is killed, and the end is reported as a timeout.
func (p *process) killForTimeout() {
	p.mu.Lock()
	p.timedOut = true
	p.mu.Unlock()
	_ = p.signal(syscall.SIGKILL)
}

func (p *process) isTimedOut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.timedOut
}

func (p *process) info() *pb.ProcessInfo {
	return &pb.ProcessInfo{Config: p.config, Pid: p.pid, Tag: p.tag}
}

// processTable holds the running processes by pid.
type processTable struct {
	mu    sync.Mutex
	procs map[uint32]*process
}

func newProcessTable() *processTable { return &processTable{procs: map[uint32]*process{}} }

func (t *processTable) add(p *process) {
	t.mu.Lock()
	t.procs[p.pid] = p
	t.mu.Unlock()
}

func (t *processTable) remove(p *process) {
	t.mu.Lock()
	if t.procs[p.pid] == p {
		delete(t.procs, p.pid)
	}
	t.mu.Unlock()
}

func (t *processTable) list() []*process {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*process, 0, len(t.procs))
	for _, p := range t.procs {
		out = append(out, p)
	}
	return out
}

// get finds a running process by pid or tag; NotFound when there is none.
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
	return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("a process selector (pid or tag) is required"))
}
