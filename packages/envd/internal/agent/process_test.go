// Process service tests against an in-process agent (start, stream, signal, PTY, connect).
// Over 400 lines on purpose: one test per behaviour of the process RPCs (their fixture is newEnv, helpers_test.go).
package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/tensor-box/tensor-box/packages/envd/gen/process"
)

func TestStartStreamsOutputAndEnd(t *testing.T) {
	e := newEnv(t)
	r := e.run(connect.NewRequest(sh("echo hello; echo oops >&2")))
	if r.err != nil || r.end == nil {
		t.Fatalf("stream: %v, end %v", r.err, r.end)
	}
	if r.pid == 0 || r.stdout != "hello\n" || r.stderr != "oops\n" {
		t.Fatalf("got pid %d stdout %q stderr %q", r.pid, r.stdout, r.stderr)
	}
	if r.end.ExitCode != 0 || !r.end.Exited || r.end.Status != "exit status 0" {
		t.Fatalf("end: %v", r.end)
	}
}

func TestExitCodeAndLargeOutput(t *testing.T) {
	e := newEnv(t)
	r := e.run(connect.NewRequest(sh("head -c 300000 /dev/zero | tr '\\0' x; exit 3")))
	if r.end.GetExitCode() != 3 || r.end.GetStatus() != "exit status 3" {
		t.Fatalf("end: %v", r.end)
	}
	if len(r.stdout) != 300000 {
		t.Fatalf("stdout has %d bytes, want 300000", len(r.stdout))
	}
}

func TestEnvVarsFromInitAndRequest(t *testing.T) {
	e := newEnv(t)
	if st := e.init(map[string]any{"envVars": map[string]string{"FROM_INIT": "a", "BOTH": "init"}}, ""); st != 204 {
		t.Fatalf("/init: %d", st)
	}
	req := sh(`echo "$FROM_INIT $FROM_REQ $BOTH $HOME $USER $PATH"`)
	req.Process.Envs = map[string]string{"FROM_REQ": "b", "BOTH": "req"}
	r := e.run(connect.NewRequest(req))
	u := defaultUser(t)
	if !strings.HasPrefix(r.stdout, "a b req /") || !strings.Contains(r.stdout, " "+u+" /usr/local/sbin:") {
		t.Fatalf("stdout %q", r.stdout)
	}
	_, _, body := e.do("GET", "/envs", nil, nil)
	if !strings.Contains(string(body), `"FROM_INIT":"a"`) {
		t.Fatalf("/envs: %s", body)
	}
}

func TestCwd(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	req := cmd("pwd")
	req.Process.Cwd = &dir
	if r := e.run(connect.NewRequest(req)); r.stdout != dir+"\n" {
		t.Fatalf("pwd: %q", r.stdout)
	}
	// /init's default workdir applies when the request names none.
	e.init(map[string]any{"defaultWorkdir": dir}, "")
	if r := e.run(connect.NewRequest(cmd("pwd"))); r.stdout != dir+"\n" {
		t.Fatalf("default workdir: %q", r.stdout)
	}
	missing := dir + "/nope"
	req.Process.Cwd = &missing
	wantCode(t, streamErr(t, e, req), connect.CodeInvalidArgument)
}

// streamErr starts req and returns the error the stream ends with.
func streamErr(t *testing.T, e *env, req *pb.StartRequest) error {
	t.Helper()
	s, err := e.proc.Start(context.Background(), connect.NewRequest(req))
	if err != nil {
		return err
	}
	for s.Receive() {
	}
	return s.Err()
}

func TestStartErrors(t *testing.T) {
	e := newEnv(t)
	wantCode(t, streamErr(t, e, cmd("/no/such/binary")), connect.CodeNotFound)
	wantCode(t, streamErr(t, e, cmd("no-such-command-anywhere")), connect.CodeNotFound)
	wantCode(t, streamErr(t, e, &pb.StartRequest{}), connect.CodeInvalidArgument)
	_, err := e.proc.SendSignal(context.Background(), connect.NewRequest(&pb.SendSignalRequest{
		Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: 999999}}, Signal: pb.Signal_SIGNAL_SIGKILL}))
	wantCode(t, err, connect.CodeNotFound)
	_, err = e.proc.SendInput(context.Background(), connect.NewRequest(&pb.SendInputRequest{
		Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Tag{Tag: "nope"}}}))
	wantCode(t, err, connect.CodeNotFound)
}

func TestStdinSendInputAndClose(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, pid := e.started(ctx, connect.NewRequest(cmd("cat")))
	sel := &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}
	for _, chunk := range []string{"hello ", "world\n"} {
		_, err := e.proc.SendInput(ctx, connect.NewRequest(&pb.SendInputRequest{Process: sel,
			Input: &pb.ProcessInput{Input: &pb.ProcessInput_Stdin{Stdin: []byte(chunk)}}}))
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.proc.CloseStdin(ctx, connect.NewRequest(&pb.CloseStdinRequest{Process: sel})); err != nil {
		t.Fatal(err)
	}
	var out string
	var end *pb.ProcessEvent_EndEvent
	for s.Receive() {
		out += string(s.Msg().GetEvent().GetData().GetStdout())
		if ev := s.Msg().GetEvent().GetEnd(); ev != nil {
			end = ev
		}
	}
	if out != "hello world\n" || end.GetExitCode() != 0 {
		t.Fatalf("out %q end %v err %v", out, end, s.Err())
	}
}

func TestStreamInput(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, pid := e.started(ctx, connect.NewRequest(cmd("head", "-n", "2")))
	in := e.proc.StreamInput(ctx)
	sel := &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}
	msgs := []*pb.StreamInputRequest{
		{Event: &pb.StreamInputRequest_Start{Start: &pb.StreamInputRequest_StartEvent{Process: sel}}},
		{
			Event: &pb.StreamInputRequest_Data{
				Data: &pb.StreamInputRequest_DataEvent{
					Input: &pb.ProcessInput{Input: &pb.ProcessInput_Stdin{Stdin: []byte("one\n")}},
				},
			},
		},
		{Event: &pb.StreamInputRequest_Keepalive{Keepalive: &pb.StreamInputRequest_KeepAlive{}}},
		{
			Event: &pb.StreamInputRequest_Data{
				Data: &pb.StreamInputRequest_DataEvent{
					Input: &pb.ProcessInput{Input: &pb.ProcessInput_Stdin{Stdin: []byte("two\n")}},
				},
			},
		},
	}
	for _, m := range msgs {
		if err := in.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.CloseAndReceive(); err != nil {
		t.Fatal(err)
	}
	var out string
	for s.Receive() {
		out += string(s.Msg().GetEvent().GetData().GetStdout())
	}
	if out != "one\ntwo\n" {
		t.Fatalf("out %q", out)
	}
}

func TestStdinFalseIsDevNull(t *testing.T) {
	e := newEnv(t)
	req := cmd("cat")
	no := false
	req.Stdin = &no
	r := e.run(connect.NewRequest(req))
	if r.end.GetExitCode() != 0 || r.stdout != "" {
		t.Fatalf("cat without stdin: %v %q", r.end, r.stdout)
	}
}

func TestPty(t *testing.T) {
	e := newEnv(t)
	req := sh(`tty; stty size; echo "TERM=$TERM"`)
	req.Pty = &pb.PTY{Size: &pb.PTY_Size{Cols: 100, Rows: 30}}
	r := e.run(connect.NewRequest(req))
	if !strings.Contains(r.pty, "/dev/pts/") || !strings.Contains(r.pty, "30 100") ||
		!strings.Contains(r.pty, "TERM=xterm-256color") {
		t.Fatalf("pty output %q", r.pty)
	}
	if r.stdout != "" || r.end.GetExitCode() != 0 {
		t.Fatalf("stdout %q end %v", r.stdout, r.end)
	}
}

func TestPtyInputAndResize(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := cmd("/bin/sh")
	req.Pty = &pb.PTY{Size: &pb.PTY_Size{Cols: 80, Rows: 24}}
	s, pid := e.started(ctx, connect.NewRequest(req))
	sel := &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}
	send := func(text string) {
		_, err := e.proc.SendInput(ctx, connect.NewRequest(&pb.SendInputRequest{Process: sel,
			Input: &pb.ProcessInput{Input: &pb.ProcessInput_Pty{Pty: []byte(text)}}}))
		if err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	waitFor := func(want string) {
		for !strings.Contains(out.String(), want) {
			if !s.Receive() {
				t.Fatalf("stream ended before %q: %v; output %q", want, s.Err(), out.String())
			}
			out.WriteString(string(s.Msg().GetEvent().GetData().GetPty()))
		}
	}
	send("stty size\n")
	waitFor("24 80")
	_, err := e.proc.Update(
		ctx,
		connect.NewRequest(&pb.UpdateRequest{Process: sel, Pty: &pb.PTY{Size: &pb.PTY_Size{Cols: 120, Rows: 40}}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	send("stty size\n")
	waitFor("40 120")
	_, err = e.proc.CloseStdin(ctx, connect.NewRequest(&pb.CloseStdinRequest{Process: sel}))
	wantCode(t, err, connect.CodeFailedPrecondition)
	send("exit 7\n")
	var end *pb.ProcessEvent_EndEvent
	for s.Receive() {
		if ev := s.Msg().GetEvent().GetEnd(); ev != nil {
			end = ev
		}
	}
	if end.GetExitCode() != 7 {
		t.Fatalf("end %v err %v", end, s.Err())
	}
}

func TestDeadlineKillsProcessGroup(t *testing.T) {
	e := newEnv(t)
	marker := fmt.Sprintf("%d.25", 300+time.Now().UnixNano()%1000)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	s, pid := e.started(ctx, connect.NewRequest(sh("sleep "+marker+" & sleep "+marker+"; wait")))
	for s.Receive() {
	}
	wantCode(t, s.Err(), connect.CodeDeadlineExceeded)
	eventually(t, "the process group is gone", func() bool { return len(procsWithArg(marker)) == 0 })
	eventually(t, "the process leaves the list", func() bool { return !listed(t, e, pid) })
}

func listed(t *testing.T, e *env, pid uint32) bool {
	t.Helper()
	res, err := e.proc.List(context.Background(), connect.NewRequest(&pb.ListRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Msg.GetProcesses() {
		if p.GetPid() == pid {
			return true
		}
	}
	return false
}

func TestLifetimeOutlivesDisconnectedStream(t *testing.T) {
	e := newEnv(t)
	marker := fmt.Sprintf("%d.5", 300+time.Now().UnixNano()%1000)
	// The request's deadline (2 s) is the process's lifetime even after the client has gone.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, pid := e.started(ctx, connect.NewRequest(cmd("sleep", marker)))
	cancel()
	time.Sleep(300 * time.Millisecond)
	if !listed(t, e, pid) {
		t.Fatal("the process died with the disconnect")
	}
	eventually(t, "the lifetime kills it", func() bool { return !listed(t, e, pid) && len(procsWithArg(marker)) == 0 })
}

func TestDisconnectKeepsRunningThenReattach(t *testing.T) {
	e := newEnv(t)
	tag := fmt.Sprintf("bg-%d", time.Now().UnixNano())
	req := sh("sleep 0.5; echo late; exec sleep 300")
	req.Tag = &tag
	ctx, cancel := context.WithCancel(context.Background())
	_, pid := e.started(ctx, connect.NewRequest(req))
	cancel() // the client goes away; no deadline
	time.Sleep(100 * time.Millisecond)

	res, err := e.proc.List(context.Background(), connect.NewRequest(&pb.ListRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var info *pb.ProcessInfo
	for _, p := range res.Msg.GetProcesses() {
		if p.GetPid() == pid {
			info = p
		}
	}
	if info == nil || info.GetTag() != tag || info.GetConfig().GetCmd() != "/bin/sh" ||
		len(info.GetConfig().GetArgs()) != 2 {
		t.Fatalf("list: %v", res.Msg.GetProcesses())
	}

	// Two subscribers by tag and pid both see the output produced after they attached.
	byTag, err := e.proc.Connect(
		context.Background(),
		connect.NewRequest(&pb.ConnectRequest{Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Tag{Tag: tag}}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	byPid, err := e.proc.Connect(
		context.Background(),
		connect.NewRequest(&pb.ConnectRequest{Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 2)
	go func() { done <- collect(t, byTag) }()
	go func() { done <- collect(t, byPid) }()
	time.Sleep(700 * time.Millisecond)
	_, err = e.proc.SendSignal(context.Background(), connect.NewRequest(&pb.SendSignalRequest{
		Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Tag{Tag: tag}}, Signal: pb.Signal_SIGNAL_SIGTERM}))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := <-done
		if r.pid != pid || r.stdout != "late\n" || r.end == nil || r.end.Status != "signal: terminated" ||
			r.end.ExitCode != -1 ||
			r.end.Exited {
			t.Fatalf("reattached stream: %+v end %v", r, r.end)
		}
	}
	s, err := e.proc.Connect(
		context.Background(),
		connect.NewRequest(&pb.ConnectRequest{Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}}),
	)
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	wantCode(t, err, connect.CodeNotFound)
}

func TestKeepalive(t *testing.T) {
	e := newEnv(t)
	req := connect.NewRequest(cmd("sleep", "2.3"))
	req.Header().Set("Keepalive-Ping-Interval", "1")
	if r := e.run(req); r.keepalives < 2 || r.end.GetExitCode() != 0 {
		t.Fatalf("keepalives %d end %v", r.keepalives, r.end)
	}
}

func TestSigkillBackgroundGroup(t *testing.T) {
	e := newEnv(t)
	marker := fmt.Sprintf("%d.75", 300+time.Now().UnixNano()%1000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, pid := e.started(ctx, connect.NewRequest(sh("sleep "+marker+" & sleep "+marker+"; wait")))
	eventually(t, "both sleeps run", func() bool { return len(procsWithArg(marker)) == 2 })
	_, err := e.proc.SendSignal(ctx, connect.NewRequest(&pb.SendSignalRequest{
		Process: &pb.ProcessSelector{Selector: &pb.ProcessSelector_Pid{Pid: pid}}, Signal: pb.Signal_SIGNAL_SIGKILL}))
	if err != nil {
		t.Fatal(err)
	}
	var end *pb.ProcessEvent_EndEvent
	for s.Receive() {
		if ev := s.Msg().GetEvent().GetEnd(); ev != nil {
			end = ev
		}
	}
	if end.GetStatus() != "signal: killed" {
		t.Fatalf("end %v err %v", end, s.Err())
	}
	eventually(t, "the whole group is gone", func() bool { return len(procsWithArg(marker)) == 0 })
}

func TestProtocols(t *testing.T) {
	for name, opts := range map[string][]connect.ClientOption{
		"connect+json":  {connect.WithProtoJSON()},
		"connect+proto": nil,
		"grpc":          {connect.WithGRPC()},
		"grpc-web":      {connect.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, opts...)
			r := e.run(connect.NewRequest(cmd("echo", name)))
			if r.err != nil || r.stdout != name+"\n" || r.end == nil {
				t.Fatalf("%+v", r)
			}
		})
	}
}
