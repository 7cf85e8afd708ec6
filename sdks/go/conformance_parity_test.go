package tensorbox

// The Go conformance runner's operations for the SDK surface of issue 16 (conformance/README.md): fork, snapshots,
// list pages, signed file URLs, terminals re-attached by pid, and the fluent template builder.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// confTerminal is a saved terminal handle and everything it has printed.
type confTerminal struct {
	pty *PtyHandle
	mu  sync.Mutex
	out strings.Builder
}

func (t *confTerminal) onData(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.out.Write(b)
}

func (t *confTerminal) output() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.out.String()
}

func confReadyCmd(v any) string {
	switch r := v.(type) {
	case string:
		return r
	case map[string]any:
		a := args(r)
		switch {
		case a["waitForPort"] != nil:
			return WaitForPort(a.int("waitForPort"))
		case a["waitForFile"] != nil:
			return WaitForFile(a.str("waitForFile"))
		case a["waitForURL"] != nil:
			return WaitForURL(a.str("waitForURL"), a.int("statusCode"))
		}
	}
	return ""
}

// confDefinition builds NewTemplate from the scenario's description; files are written to a fresh file context.
func confDefinition(a args) (*TemplateBuilder, error) {
	dir, err := os.MkdirTemp("", "tb-conf-ctx-")
	if err != nil {
		return nil, err
	}
	for rel, data := range a.strMap("files") {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return nil, err
		}
	}
	t := NewTemplate(dir)
	if v := a.str("fromTemplate"); v != "" {
		t.FromTemplate(v)
	}
	if v := a.str("fromImage"); v != "" {
		t.FromImage(v)
	}
	steps, _ := a["steps"].([]any)
	for _, s := range steps {
		for kind, v := range s.(map[string]any) {
			switch kind {
			case "copy":
				c := args(v.(map[string]any))
				t.Copy(c.str("src"), c.str("dest"), &CopyOptions{User: c.str("user")})
			case "runCmd":
				t.RunCmd(fmt.Sprint(v))
			case "setEnvs":
				t.SetEnvs(args(map[string]any{"e": v}).strMap("e"))
			case "setWorkdir":
				t.SetWorkdir(fmt.Sprint(v))
			case "setUser":
				t.SetUser(fmt.Sprint(v))
			case "aptInstall":
				t.AptInstall(args(map[string]any{"p": v}).strList("p")...)
			case "pipInstall":
				t.PipInstall(args(map[string]any{"p": v}).strList("p")...)
			default:
				return nil, fmt.Errorf("unknown template step %q", kind)
			}
		}
	}
	if cmd := a.str("startCmd"); cmd != "" {
		t.SetStartCmd(cmd, confReadyCmd(a["readyCmd"]))
	}
	return t, nil
}

// parityOp runs a parity op; handled is false when op is not one of them.
func (r *confRun) parityOp(ctx context.Context, op string, a args) (result any, handled bool, err error) {
	o := &r.opts
	switch op {
	case "sandbox.listPage":
		items, next, err := ListPage(
			ctx,
			&ListOptions{
				Options:  r.opts,
				State:    a.strList("state"),
				Metadata: a.strMap("metadata"),
				Template: a.str("template"),
				Order:    a.str("order"),
				Limit:    a.int("limit"),
			},
		)
		return map[string]any{"count": len(items), "hasNext": next != ""}, true, err
	case "snapshot.list":
		snaps, err := ListSnapshots(
			ctx,
			&SnapshotListOptions{Options: r.opts, SandboxID: a.str("sandboxId"), Name: a.str("name")},
		)
		out := make([]any, len(snaps))
		for i, s := range snaps {
			out[i] = map[string]any{"snapshotId": s.SnapshotID, "name": s.Name}
		}
		return out, true, err
	case "snapshot.delete":
		ok, err := DeleteSnapshot(ctx, a.str("snapshot"), o)
		return ok, true, err
	case "template.build":
		t, err := confDefinition(a)
		if err != nil {
			return nil, true, err
		}
		info, err := BuildTemplate(
			ctx,
			t,
			&BuildTemplateOptions{
				Options:      r.opts,
				Alias:        a.str("alias"),
				CPUCount:     a.int("cpuCount"),
				MemoryMB:     a.int("memoryMB"),
				PollInterval: 200 * time.Millisecond,
			},
		)
		if err != nil {
			return nil, true, err
		}
		r.saveBuild(
			firstNonEmpty(a.str("save"), a.str("alias")),
			&TemplateCreated{TemplateID: info.TemplateID, BuildID: info.BuildID},
		)
		return map[string]any{"templateID": info.TemplateID, "buildID": info.BuildID, "status": info.Status}, true, nil
	}
	if !strings.HasPrefix(op, "pty.") && !strings.HasPrefix(op, "snapshot.") && op != "sandbox.fork" &&
		!strings.HasPrefix(op, "files.") {
		return nil, false, nil
	}
	s, err := r.sandbox()
	if err != nil {
		return nil, true, err
	}
	switch op {
	case "sandbox.fork":
		copies, err := s.Fork(ctx, &ForkOptions{Count: a.int("count")})
		out := make([]any, len(copies))
		for i, c := range copies {
			r.created = append(r.created, c.SandboxID)
			out[i] = map[string]any{"sandboxId": c.SandboxID}
		}
		if a["use"] == true && len(copies) > 0 {
			r.sbx = copies[0]
		}
		return out, true, err
	case "snapshot.create":
		snap, err := s.CreateSnapshot(ctx, a.str("name"))
		if err != nil {
			return nil, true, err
		}
		return map[string]any{"snapshotId": snap.SnapshotID, "name": snap.Name}, true, nil
	case "files.downloadUrl", "files.uploadUrl":
		var res *http.Response
		if op == "files.downloadUrl" {
			res, err = http.Get(s.DownloadURL(a.str("path"), SignedURLOptions{User: a.str("user")}))
		} else {
			res, err = http.Post(s.UploadURL(a.str("path"), SignedURLOptions{User: a.str("user")}), "application/octet-stream",
				strings.NewReader(a.str("data")))
		}
		if err != nil {
			return nil, true, err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if op == "files.uploadUrl" {
			return map[string]any{"status": res.StatusCode}, true, nil
		}
		return map[string]any{"status": res.StatusCode, "body": string(body)}, true, nil
	case "pty.create", "pty.connect":
		term := &confTerminal{}
		name := a.str("save")
		if op == "pty.create" {
			term.pty, err = s.Pty.Create(ctx, &PtyOptions{Cols: 80, Rows: 24, OnData: term.onData, Cmd: a.str("cmd")})
		} else {
			pid := uint32(a.int("pid"))
			if name = a.str("handle"); name != "" {
				pid = r.ptys[name].pty.PID
			} else {
				name = a.str("pid")
			}
			term.pty, err = s.Pty.Connect(ctx, pid, &PtyConnectOptions{OnData: term.onData})
		}
		if err != nil {
			return nil, true, err
		}
		r.ptys[name] = term
		return map[string]any{"pid": term.pty.PID}, true, nil
	}
	if !strings.HasPrefix(op, "pty.") {
		return nil, false, nil
	}
	term, ok := r.ptys[a.str("handle")]
	if !ok {
		return nil, true, fmt.Errorf("no saved terminal %q", a.str("handle"))
	}
	switch op {
	case "pty.sendInput":
		return nil, true, term.pty.SendInput([]byte(a.str("data")))
	case "pty.disconnect":
		term.pty.Disconnect()
		return nil, true, nil
	case "pty.kill":
		ok, err := term.pty.Kill()
		return ok, true, err
	case "pty.waitOutput":
		timeout := a.ms("timeoutMs")
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		for deadline := time.Now().Add(timeout); !strings.Contains(term.output(),
			a.str("contains")); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				return nil, true, newError(KindTimeout, "%q not in the terminal's output: %q", a.str("contains"), term.output())
			}
		}
		return true, true, nil
	}
	return nil, true, fmt.Errorf("unknown op %q", op)
}
