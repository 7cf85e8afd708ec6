package tensorbox

// A small stand-in for the sandbox agent, built on the generated connect-go handlers and running real local
// processes and files, so the SDK's agent wire (Connect JSON streams, deadlines, error codes, /files) is exercised
// without a sandbox runtime. It is deliberately partial: only what the wire tests call.

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/filesystem"
	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/filesystem/filesystemconnect"
	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/process"
	"github.com/tensor-box/tensor-box/sdks/go/internal/envd/process/processconnect"
)

type fakeEnvd struct {
	processconnect.UnimplementedProcessHandler
	filesystemconnect.UnimplementedFilesystemHandler

	mu      sync.Mutex
	procs   map[uint32]*fakeProc
	headers []http.Header // of every request, in order
}

type fakeProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// newFakeSandbox serves a fakeEnvd and returns a Sandbox whose agent calls go to it.
func newFakeSandbox(t *testing.T) (*Sandbox, *fakeEnvd) {
	f := &fakeEnvd{procs: map[uint32]*fakeProc{}}
	mux := http.NewServeMux()
	mux.Handle(processconnect.NewProcessHandler(f))
	mux.Handle(filesystemconnect.NewFilesystemHandler(f))
	mux.HandleFunc("/files", f.files)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tok := "secret-token"
	return newSandbox(
		&api.Sandbox{SandboxID: "sbxfake", TemplateID: "default", EnvdAccessToken: &tok},
		resolveOptions(&Options{Domain: srv.URL, APIKey: "k"}),
	), f
}

func (f *fakeEnvd) Start(
	ctx context.Context,
	req *connect.Request[process.StartRequest],
	stream *connect.ServerStream[process.StartResponse],
) error {
	cfg := req.Msg.GetProcess()
	cmd := exec.CommandContext(ctx, cfg.GetCmd(), cfg.GetArgs()...)
	cmd.Dir = cfg.GetCwd()
	cmd.Env = os.Environ()
	for k, v := range cfg.GetEnvs() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	pid := uint32(cmd.Process.Pid)
	f.mu.Lock()
	f.procs[pid] = &fakeProc{cmd: cmd, stdin: stdin}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.procs, pid)
		f.mu.Unlock()
	}()
	var sendMu sync.Mutex
	send := func(ev *process.ProcessEvent) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(&process.StartResponse{Event: ev})
	}
	if err := send(&process.ProcessEvent{
		Event: &process.ProcessEvent_Start{Start: &process.ProcessEvent_StartEvent{Pid: pid}},
	}); err != nil {
		return err
	}
	pump := func(r io.Reader, wrap func([]byte) *process.ProcessEvent_DataEvent, wg *sync.WaitGroup) {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				send(&process.ProcessEvent{Event: &process.ProcessEvent_Data{Data: wrap(append([]byte(nil), buf[:n]...))}})
			}
			if err != nil {
				return
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go pump(stdout, func(b []byte) *process.ProcessEvent_DataEvent {
		return &process.ProcessEvent_DataEvent{Output: &process.ProcessEvent_DataEvent_Stdout{Stdout: b}}
	}, &wg)
	go pump(stderr, func(b []byte) *process.ProcessEvent_DataEvent {
		return &process.ProcessEvent_DataEvent{Output: &process.ProcessEvent_DataEvent_Stderr{Stderr: b}}
	}, &wg)
	wg.Wait()
	err := cmd.Wait()
	if ctx.Err() != nil {
		return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
	end := &process.ProcessEvent_EndEvent{
		ExitCode: int32(cmd.ProcessState.ExitCode()),
		Exited:   cmd.ProcessState.Exited(),
		Status:   cmd.ProcessState.String(),
	}
	if err != nil && !cmd.ProcessState.Exited() {
		msg := err.Error()
		end.Error = &msg
	}
	// Like envd: an ended process leaves the table before its end event goes out (a kill right after wait finds nothing).
	f.mu.Lock()
	delete(f.procs, pid)
	f.mu.Unlock()
	return send(&process.ProcessEvent{Event: &process.ProcessEvent_End{End: end}})
}

func (f *fakeEnvd) proc(sel *process.ProcessSelector) (*fakeProc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[sel.GetPid()]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("process not found"))
	}
	return p, nil
}

func (f *fakeEnvd) SendSignal(
	_ context.Context,
	req *connect.Request[process.SendSignalRequest],
) (*connect.Response[process.SendSignalResponse], error) {
	p, err := f.proc(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	p.cmd.Process.Kill()
	return connect.NewResponse(&process.SendSignalResponse{}), nil
}

func (f *fakeEnvd) SendInput(
	_ context.Context,
	req *connect.Request[process.SendInputRequest],
) (*connect.Response[process.SendInputResponse], error) {
	p, err := f.proc(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	p.stdin.Write(req.Msg.GetInput().GetStdin())
	return connect.NewResponse(&process.SendInputResponse{}), nil
}

func (f *fakeEnvd) CloseStdin(
	_ context.Context,
	req *connect.Request[process.CloseStdinRequest],
) (*connect.Response[process.CloseStdinResponse], error) {
	p, err := f.proc(req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	p.stdin.Close()
	return connect.NewResponse(&process.CloseStdinResponse{}), nil
}

func (f *fakeEnvd) List(
	context.Context,
	*connect.Request[process.ListRequest],
) (*connect.Response[process.ListResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := &process.ListResponse{}
	for pid, p := range f.procs {
		res.Processes = append(
			res.Processes,
			&process.ProcessInfo{Pid: pid, Config: &process.ProcessConfig{Cmd: p.cmd.Path, Args: p.cmd.Args[1:]}},
		)
	}
	return connect.NewResponse(res), nil
}

func fsError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, os.ErrExist):
		return connect.NewError(connect.CodeAlreadyExists, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

func fakeEntry(path string) (*filesystem.EntryInfo, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, fsError(err)
	}
	e := &filesystem.EntryInfo{
		Name:        filepath.Base(path),
		Path:        path,
		Size:        st.Size(),
		Mode:        uint32(st.Mode().Perm()),
		Permissions: st.Mode().String(),
		Type:        filesystem.FileType_FILE_TYPE_FILE,
	}
	if st.IsDir() {
		e.Type = filesystem.FileType_FILE_TYPE_DIRECTORY
	}
	return e, nil
}

func (f *fakeEnvd) Stat(
	_ context.Context,
	req *connect.Request[filesystem.StatRequest],
) (*connect.Response[filesystem.StatResponse], error) {
	e, err := fakeEntry(req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&filesystem.StatResponse{Entry: e}), nil
}

func (f *fakeEnvd) MakeDir(
	_ context.Context,
	req *connect.Request[filesystem.MakeDirRequest],
) (*connect.Response[filesystem.MakeDirResponse], error) {
	if _, err := os.Stat(req.Msg.GetPath()); err == nil {
		return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("exists"))
	}
	if err := os.MkdirAll(req.Msg.GetPath(), 0o755); err != nil {
		return nil, fsError(err)
	}
	e, _ := fakeEntry(req.Msg.GetPath())
	return connect.NewResponse(&filesystem.MakeDirResponse{Entry: e}), nil
}

func (f *fakeEnvd) ListDir(
	_ context.Context,
	req *connect.Request[filesystem.ListDirRequest],
) (*connect.Response[filesystem.ListDirResponse], error) {
	des, err := os.ReadDir(req.Msg.GetPath())
	if err != nil {
		return nil, fsError(err)
	}
	res := &filesystem.ListDirResponse{}
	for _, d := range des {
		e, _ := fakeEntry(filepath.Join(req.Msg.GetPath(), d.Name()))
		res.Entries = append(res.Entries, e)
	}
	return connect.NewResponse(res), nil
}

// files serves GET/POST /files (octet-stream body or multipart "file" parts named by path).
func (f *fakeEnvd) files(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	if r.Method == http.MethodGet {
		b, err := os.ReadFile(path)
		if err != nil {
			w.WriteHeader(404)
			w.Write([]byte(`{"code":404,"message":"file not found"}`))
			return
		}
		w.Write(b)
		return
	}
	if path != "" {
		b, _ := io.ReadAll(r.Body)
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, b, 0o644)
		w.Write([]byte(`[]`))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		w.WriteHeader(400)
		return
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		// Part.FileName keeps only the base name; the agent takes the whole path.
		_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		dest := params["filename"]
		b, _ := io.ReadAll(p)
		os.MkdirAll(filepath.Dir(dest), 0o755)
		os.WriteFile(dest, b, 0o644)
	}
	w.Write([]byte(`[]`))
}

// WatchDir reports one scripted create event after the start, then holds the stream open until the client leaves;
// a missing directory is NotFound.
func (f *fakeEnvd) WatchDir(
	ctx context.Context,
	req *connect.Request[filesystem.WatchDirRequest],
	stream *connect.ServerStream[filesystem.WatchDirResponse],
) error {
	if _, err := os.Stat(req.Msg.GetPath()); err != nil {
		return fsError(err)
	}
	if err := stream.Send(&filesystem.WatchDirResponse{
		Event: &filesystem.WatchDirResponse_Start{Start: &filesystem.WatchDirResponse_StartEvent{}},
	}); err != nil {
		return err
	}
	ev := &filesystem.FilesystemEvent{Name: "a.txt", Type: filesystem.EventType_EVENT_TYPE_CREATE}
	if err := stream.Send(&filesystem.WatchDirResponse{
		Event: &filesystem.WatchDirResponse_Filesystem{Filesystem: ev},
	}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
