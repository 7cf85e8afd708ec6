package agent

// Starting a process: as the request's user (uid, gid, supplementary groups), in a session of its own, with pipes or
// a PTY, and an optional lifetime (the Start request's deadline) after which the whole group is killed.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/creack/pty"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/process"
)

// drainGrace is how long the end waits for output still in flight after the exit. Processes that inherited the
// output and live on (a daemon started with `&`) would otherwise hold the end back forever.
const drainGrace = 200 * time.Millisecond

type spawnRequest struct {
	user     *sandboxUser
	msg      *pb.StartRequest
	lifetime time.Duration // 0: no limit
}

// spawn starts the process and returns it with a subscriber that already holds the start event; every later event
// reaches that subscriber too.
func (a *Agent) spawn(r spawnRequest) (*process, *subscriber, error) {
	u, cfg := r.user, r.msg.GetProcess()
	if cfg.GetCmd() == "" {
		return nil, nil, connect.NewError(connect.CodeInvalidArgument, errors.New("process.cmd is required"))
	}
	var cwd string
	if cfg.Cwd != nil && *cfg.Cwd != "" {
		cwd = a.resolvePath(u, *cfg.Cwd)
		if err := checkCwd(u, cwd); err != nil {
			return nil, nil, err
		}
	} else if cwd = a.workdir(u); checkCwd(u, cwd) != nil {
		cwd = "/" // a user without a usable home (nobody: /nonexistent) still runs commands
	}

	var extra map[string]string
	if r.msg.Pty != nil {
		extra = map[string]string{"TERM": "xterm-256color"}
	}
	env := a.processEnv(u, cfg.GetEnvs(), extra)
	bin, err := lookPath(cfg.GetCmd(), env, cwd)
	if err != nil {
		return nil, nil, connect.NewError(connect.CodeNotFound, err)
	}
	cmd := &exec.Cmd{Path: bin, Args: append([]string{cfg.GetCmd()}, cfg.GetArgs()...), Dir: cwd, Env: env}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if syscall.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	}

	p := &process{tag: r.msg.Tag, config: cfg, cmd: cmd, subs: map[*subscriber]struct{}{}}
	var outputs []*os.File // read ends, closed after the end
	if r.msg.Pty != nil {
		outputs, err = startWithPty(p, u, r.msg.Pty.GetSize())
	} else {
		outputs, err = startWithPipes(p, r.msg.Stdin == nil || r.msg.GetStdin())
	}
	if err != nil {
		return nil, nil, startError(cfg.GetCmd(), err)
	}
	p.pid = uint32(cmd.Process.Pid)
	sub := p.subscribe()
	// The start event goes out before any output can be published.
	p.publish(&pb.ProcessEvent{Event: &pb.ProcessEvent_Start{Start: &pb.ProcessEvent_StartEvent{Pid: p.pid}}})
	a.procs.add(p)
	if r.lifetime > 0 {
		p.mu.Lock()
		p.timer = time.AfterFunc(r.lifetime, p.killForTimeout)
		p.mu.Unlock()
	}

	var readers sync.WaitGroup
	for i, f := range outputs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			pump(p, f, outputKind(p.pty != nil, i))
		}()
	}
	go func() {
		waitErr := cmd.Wait()
		done := make(chan struct{})
		go func() { readers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(drainGrace):
		}
		for _, f := range outputs {
			f.Close()
		}
		a.finish(p, waitErr)
	}()
	return p, sub, nil
}

// lookPath finds a command without a slash in the process's own PATH (not envd's), like a shell would.
func lookPath(name string, env []string, cwd string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return filepath.Join(cwd, name), nil
		}
		return name, nil
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		cand := filepath.Join(dir, name)
		if st, err := os.Stat(cand); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return cand, nil
		}
	}
	return "", fmt.Errorf("command '%s' not found in PATH", name)
}

// checkCwd: the directory must exist and the user must be able to enter it.
func checkCwd(u *sandboxUser, cwd string) error {
	return asUser(u, func() error {
		st, err := os.Stat(cwd)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("cwd '%s' does not exist", cwd))
		case errors.Is(err, os.ErrPermission):
			return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("user '%s' cannot access cwd '%s'", u.Name, cwd))
		case err != nil:
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("cwd '%s': %w", cwd, err))
		case !st.IsDir():
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("cwd '%s' is not a directory", cwd))
		}
		// Resolving "<cwd>/." needs search permission on cwd, checked with the fs credentials (access(2) would use
		// the real uid, which is root).
		if _, err := os.Stat(cwd + "/."); err != nil {
			return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("user '%s' cannot enter cwd '%s'", u.Name, cwd))
		}
		return nil
	})
}

// startWithPipes runs the command with plain pipes for output (not exec's copying goroutines, so that Wait returns at
// the exit even when a background child keeps the pipes open) and stdin a pipe or /dev/null.
func startWithPipes(p *process, withStdin bool) ([]*os.File, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	p.cmd.Stdout, p.cmd.Stderr = outW, errW
	if withStdin {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		p.stdin = w
	}
	err = p.cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	return []*os.File{outR, errR}, nil
}

// startWithPty runs the command on a new PTY that is its controlling terminal and owned by the user.
func startWithPty(p *process, u *sandboxUser, size *pb.PTY_Size) ([]*os.File, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	ws := &pty.Winsize{Cols: 80, Rows: 24}
	if size.GetCols() > 0 && size.GetRows() > 0 {
		ws = &pty.Winsize{Cols: uint16(size.GetCols()), Rows: uint16(size.GetRows())}
	}
	if err := pty.Setsize(master, ws); err != nil {
		master.Close()
		return nil, err
	}
	if syscall.Geteuid() == 0 {
		_ = tty.Chown(int(u.UID), -1)
	}
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, tty
	p.cmd.SysProcAttr.Setctty = true
	p.cmd.SysProcAttr.Ctty = 0 // the child's stdin
	if err := p.cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	p.pty = master
	p.stdin = master
	return []*os.File{master}, nil
}

func outputKind(isPty bool, i int) func([]byte) *pb.ProcessEvent_DataEvent {
	switch {
	case isPty:
		return func(b []byte) *pb.ProcessEvent_DataEvent {
			return &pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Pty{Pty: b}}
		}
	case i == 0:
		return func(b []byte) *pb.ProcessEvent_DataEvent {
			return &pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Stdout{Stdout: b}}
		}
	}
	return func(b []byte) *pb.ProcessEvent_DataEvent {
		return &pb.ProcessEvent_DataEvent{Output: &pb.ProcessEvent_DataEvent_Stderr{Stderr: b}}
	}
}

// pump publishes everything read from r as data events until r ends (EOF, or EIO on a PTY whose slave is closed).
func pump(p *process, r io.Reader, wrap func([]byte) *pb.ProcessEvent_DataEvent) {
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

// finish publishes the end event and forgets the process.
func (a *Agent) finish(p *process, waitErr error) {
	end := &pb.ProcessEvent_EndEvent{ExitCode: -1, Status: "unknown"}
	if st := p.cmd.ProcessState; st != nil {
		end.ExitCode = int32(st.ExitCode()) // -1 when killed by a signal
		end.Exited = st.Exited()
		end.Status = st.String() // "exit status 3", "signal: killed"
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		msg := waitErr.Error()
		end.Error = &msg
	}
	p.mu.Lock()
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.timedOut {
		msg := "the command's timeout expired and it was killed"
		end.Error = &msg
	}
	p.mu.Unlock()
	a.procs.remove(p)
	p.inMu.Lock()
	if p.stdin != nil && p.pty == nil {
		p.stdin.Close()
	}
	p.stdin = nil
	p.inMu.Unlock()
	p.publish(&pb.ProcessEvent{Event: &pb.ProcessEvent_End{End: end}})
}

func startError(cmd string, err error) error {
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("cannot start '%s': %w", cmd, err))
	case errors.Is(err, os.ErrPermission):
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("cannot start '%s': %w", cmd, err))
	}
	return connect.NewError(connect.CodeInternal, fmt.Errorf("cannot start '%s': %w", cmd, err))
}
