package tensorbox

// Conformance runner: executes every conformance/scenarios/*.yaml (see conformance/README.md) against the live
// server. Results are turned into the suite's TypeScript-style field names (camelCase) and compared as JSON values;
// an unknown op fails its scenario.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type confStep struct {
	Op          string         `yaml:"op"`
	Args        map[string]any `yaml:"args"`
	Expect      map[string]any `yaml:"expect"`
	ExpectError string         `yaml:"expectError"`
}

type confScenario struct {
	Name  string     `yaml:"name"`
	Steps []confStep `yaml:"steps"`
}

var confErrorKinds = map[string]error{
	"NotFound": ErrNotFound, "InvalidArgument": ErrInvalidArgument, "Authentication": ErrAuthentication,
	"Timeout": ErrTimeout, "CommandExit": ErrCommandExit, "Conflict": ErrConflict, "NotEnoughSpace": ErrNotEnoughSpace,
	"Build": ErrBuild,
}

func loadScenarios(t *testing.T) []confScenario {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(), "conformance", "scenarios", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	sort.Strings(files)
	var out []confScenario
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sc confScenario
		if err := yaml.Unmarshal(raw, &sc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, sc)
	}
	return out
}

func TestConformance(t *testing.T) {
	scenarios := loadScenarios(t)
	o := liveOptions(t)
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			r := &confRun{
				opts:    o,
				handles: map[string]*CommandHandle{},
				builds:  map[string]*TemplateCreated{},
				ptys:    map[string]*confTerminal{},
				runID:   strconv.FormatInt(time.Now().UnixNano(), 36),
			}
			defer r.cleanup()
			for i, step := range sc.Steps {
				where := fmt.Sprintf("step %d (%s)", i+1, step.Op)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // template builds can take minutes
				result, err := r.exec(ctx, step)
				cancel()
				if step.ExpectError != "" {
					want, ok := confErrorKinds[step.ExpectError]
					if !ok {
						t.Fatalf("%s: unknown error kind %q", where, step.ExpectError)
					}
					if err == nil {
						t.Fatalf("%s: expected %s, got success", where, step.ExpectError)
					}
					if !errors.Is(err, want) {
						t.Fatalf("%s: expected %s, got %v", where, step.ExpectError, err)
					}
					var ce *CommandExitError
					if errors.As(err, &ce) {
						result = map[string]any{"exitCode": ce.ExitCode, "stdout": ce.Stdout, "stderr": ce.Stderr}
					}
					var be *BuildError
					if errors.As(err, &be) {
						result = map[string]any{"step": be.Reason.Step, "exitCode": be.Reason.ExitCode, "message": be.Reason.Message}
					}
				} else if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				if step.Expect != nil {
					if msg := confCheck(result, step.Expect); msg != "" {
						t.Fatalf("%s: %s", where, msg)
					}
				}
			}
		})
	}
}

// confRun is the state of one scenario: its sandbox, every sandbox it created, its saved command handles and
// template builds.
type confRun struct {
	opts       Options
	sbx        *Sandbox
	created    []string
	handles    map[string]*CommandHandle
	builds     map[string]*TemplateCreated
	buildOrder []string
	runID      string
	ptys       map[string]*confTerminal
}

// cleanup kills every sandbox the scenario created, then deletes the templates it made, newest first.
func (r *confRun) cleanup() {
	ctx := context.Background()
	for _, t := range r.ptys {
		t.pty.Disconnect()
	}
	for _, id := range r.created {
		KillByID(ctx, id, &r.opts)
	}
	for i := len(r.buildOrder) - 1; i >= 0; i-- {
		DeleteTemplate(ctx, r.builds[r.buildOrder[i]].TemplateID, &r.opts)
	}
}

var hostPattern = regexp.MustCompile(`\$\{host:(\d+)\}`)

// subst replaces ${sandboxId} and ${host:PORT} in every string of v.
func (r *confRun) subst(v any) any {
	switch x := v.(type) {
	case string:
		id := ""
		if r.sbx != nil {
			id = r.sbx.SandboxID
		}
		x = strings.ReplaceAll(x, "${runId}", r.runID)
		x = strings.ReplaceAll(x, "${sandboxId}", id)
		return hostPattern.ReplaceAllStringFunc(x, func(m string) string {
			port, _ := strconv.Atoi(hostPattern.FindStringSubmatch(m)[1])
			if r.sbx == nil {
				return m
			}
			return r.sbx.GetHost(port)
		})
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.subst(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.subst(e)
		}
		return out
	}
	return v
}

func (r *confRun) sandbox() (*Sandbox, error) {
	if r.sbx == nil {
		return nil, errors.New("no sandbox created yet in this scenario")
	}
	return r.sbx, nil
}

func (r *confRun) exec(ctx context.Context, step confStep) (any, error) {
	a := args(r.subst(step.Args).(map[string]any))
	switch step.Op {
	case "sandbox.create":
		opts := &CreateOptions{
			Options:  r.opts,
			Timeout:  a.ms("timeoutMs"),
			Envs:     a.strMap("envs"),
			Metadata: a.strMap("metadata"),
		}
		if lc, ok := a["lifecycle"].(map[string]any); ok {
			opts.Lifecycle = &LifecycleConfig{OnTimeout: fmt.Sprint(lc["onTimeout"])}
			if ar, ok := lc["autoResume"].(bool); ok {
				opts.Lifecycle.AutoResume = &ar
			}
		}
		sbx, err := Create(ctx, a.str("template"), opts)
		if err != nil {
			return nil, err
		}
		r.created = append(r.created, sbx.SandboxID)
		if r.sbx == nil || a["use"] == true {
			r.sbx = sbx
		}
		return map[string]any{"sandboxId": sbx.SandboxID, "templateId": sbx.TemplateID}, nil
	case "sandbox.connect":
		id, err := r.idArg(a)
		if err != nil {
			return nil, err
		}
		_, err = Connect(ctx, id, &ConnectOptions{Options: r.opts})
		return nil, err
	case "sandbox.kill":
		id, err := r.idArg(a)
		if err != nil {
			return nil, err
		}
		_, err = KillByID(ctx, id, &r.opts)
		return nil, err
	case "sandbox.killById":
		return KillByID(ctx, a.str("sandboxId"), &r.opts)
	case "sandbox.list":
		infos, err := List(
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
		if err != nil {
			return nil, err
		}
		out := make([]any, len(infos))
		for i := range infos {
			out[i] = confInfo(&infos[i])
		}
		return out, nil
	}
	if res, handled, err := r.parityOp(ctx, step.Op, a); handled {
		return res, err
	}
	if strings.HasPrefix(step.Op, "template.") {
		return r.templateOp(ctx, step.Op, a)
	}

	s, err := r.sandbox()
	if err != nil {
		return nil, err
	}
	switch step.Op {
	case "sandbox.getInfo":
		info, err := s.GetInfo(ctx)
		if err != nil {
			return nil, err
		}
		return confInfo(info), nil
	case "sandbox.isRunning":
		return s.IsRunning(ctx), nil
	case "sandbox.setTimeout":
		return nil, s.SetTimeout(ctx, a.ms("timeoutMs"))
	case "sandbox.keepAlive":
		return nil, s.KeepAlive(ctx, a.ms("timeoutMs"))
	case "sandbox.pause":
		if keep := a.boolPtr("keepMemory"); keep != nil && !*keep {
			return nil, s.PauseFilesystem(ctx)
		}
		return nil, s.Pause(ctx)
	case "sandbox.resume":
		return nil, s.Resume(ctx, a.ms("timeoutMs"))
	case "sandbox.getHost":
		return s.GetHost(a.int("port")), nil
	case "commands.run":
		res, err := s.Commands.Run(
			ctx,
			a.str("cmd"),
			&CommandOptions{Envs: a.strMap("envs"), Cwd: a.str("cwd"), User: a.str("user"), Timeout: a.ms("timeoutMs")},
		)
		if err != nil {
			return nil, err
		}
		return confResult(res), nil
	case "commands.runBackground":
		h, err := s.Commands.RunBackground(ctx, a.str("cmd"), nil)
		if err != nil {
			return nil, err
		}
		if name := a.str("save"); name != "" {
			r.handles[name] = h
		}
		return map[string]any{"pid": h.PID}, nil
	case "commands.kill", "commands.wait":
		h, ok := r.handles[a.str("handle")]
		if !ok {
			return nil, fmt.Errorf("no saved handle %q", a.str("handle"))
		}
		if step.Op == "commands.kill" {
			return h.Kill(ctx)
		}
		res, err := h.Wait(ctx)
		if err != nil {
			return nil, err
		}
		return confResult(res), nil
	case "files.write":
		if files, ok := a["files"].([]any); ok {
			entries := make([]WriteEntry, len(files))
			for i, f := range files {
				m := args(f.(map[string]any))
				entries[i] = WriteEntry{Path: m.str("path"), Data: []byte(m.str("data"))}
			}
			infos, err := s.Files.WriteFiles(ctx, entries, nil)
			if err != nil {
				return nil, err
			}
			return confEntries(infos), nil
		}
		info, err := s.Files.WriteString(ctx, a.str("path"), a.str("data"), nil)
		if err != nil {
			return nil, err
		}
		return confEntry(info), nil
	case "files.read":
		if a.str("format") == "bytes" {
			b, err := s.Files.ReadBytes(ctx, a.str("path"), nil)
			return string(b), err
		}
		return s.Files.Read(ctx, a.str("path"), nil)
	case "files.list":
		infos, err := s.Files.List(ctx, a.str("path"), nil)
		if err != nil {
			return nil, err
		}
		return confEntries(infos), nil
	case "files.makeDir":
		return s.Files.MakeDir(ctx, a.str("path"), nil)
	case "files.exists":
		return s.Files.Exists(ctx, a.str("path"), nil)
	case "files.rename":
		info, err := s.Files.Rename(ctx, a.str("from"), a.str("to"), nil)
		if err != nil {
			return nil, err
		}
		return confEntry(info), nil
	case "files.remove":
		return nil, s.Files.Remove(ctx, a.str("path"), nil)
	case "sandbox.commitAsTemplate":
		b, err := s.CommitAsTemplate(
			ctx,
			a.str("name"),
			&CommitOptions{CPUCount: a.int("cpuCount"), MemoryMB: a.int("memoryMB"), Wait: a.boolPtr("wait")},
		)
		if err != nil {
			return nil, err
		}
		r.saveBuild(
			firstNonEmpty(a.str("save"), a.str("name")),
			&TemplateCreated{TemplateID: b.TemplateID, BuildID: b.BuildID},
		)
		return confBuild(b), nil
	case "files.getInfo":
		info, err := s.Files.GetInfo(ctx, a.str("path"), nil)
		if err != nil {
			return nil, err
		}
		return confEntry(info), nil
	case "http.get":
		// Retried for up to 10 s until expect matches: a server in the sandbox may still be starting.
		var last map[string]any
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			status, body := getWithHost(apiURLFromDomain(r.opts.Domain)+a.str("path"), a.str("host"))
			last = map[string]any{"status": status, "body": body}
			if step.Expect == nil || confCheck(last, step.Expect) == "" || time.Now().After(deadline) {
				return last, nil
			}
		}
	}
	return nil, fmt.Errorf("unknown op %q", step.Op)
}

func (r *confRun) idArg(a args) (string, error) {
	if id := a.str("sandboxId"); id != "" {
		return id, nil
	}
	s, err := r.sandbox()
	if err != nil {
		return "", err
	}
	return s.SandboxID, nil
}
