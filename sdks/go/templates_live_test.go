package tensorbox

// Integration tests of template builds and commits against the live server (see main_test.go): a template derived
// from default with a RUN step, sandboxes started from it by name, a failing step reported as a *BuildError naming
// it, a running sandbox committed as a template, and deletion.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// liveTemplates skips the test while the server has no template build service (POST /v3/templates is not routed).
func liveTemplates(t *testing.T) Options {
	t.Helper()
	o := liveOptions(t)
	// An invalid body (cpuCount below the minimum): 400 where the route exists, 404 where it does not.
	_, _, err := resolveOptions(
		&o,
	).do(context.Background(), restCall{method: "POST", path: "/v3/templates",
		body: map[string]any{"name": "probe", "cpuCount": 0}, what: "probe"})
	var se *SandboxError
	if errors.As(err, &se) && (se.Status == 404 || se.Status == 405) {
		t.Skip("the server has no template build service yet (POST /v3/templates answers " + strconv.Itoa(se.Status) + ")")
	}
	return o
}

func uniqueName(prefix string) string {
	return prefix + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func TestLiveTemplateBuild(t *testing.T) {
	o := liveTemplates(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	name := uniqueName("go-tpl")

	bases, err := ListBaseImages(ctx, &o)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bases {
		if b.DockerImage == "" || (b.Status != "ready" && b.Status != "available") {
			t.Fatalf("base image %+v", b)
		}
	}

	created, err := CreateTemplate(ctx, &TemplateCreateOptions{Name: name, CPUCount: 1, MemoryMB: 1024}, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DeleteTemplate(context.Background(), created.TemplateID, &o) })
	err = StartBuild(ctx, created.TemplateID, created.BuildID, &TemplateBuildOptions{
		FromTemplate: "default",
		Steps:        []TemplateBuildStep{{Name: "write", Command: "echo built-by-go > /home/user/built.txt"}},
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	var logged []BuildLogEntry
	b, err := WaitForBuild(
		ctx,
		created.TemplateID,
		created.BuildID,
		&WaitOptions{
			Options:      o,
			PollInterval: 300 * time.Millisecond,
			OnLog:        func(e BuildLogEntry) { logged = append(logged, e) },
		},
	)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if b.Status != "ready" {
		t.Fatalf("build %+v", b)
	}
	logs, err := GetBuildLogs(ctx, created.TemplateID, created.BuildID, &BuildLogsOptions{Options: o})
	if err != nil || len(logs.Logs) == 0 || logs.NextOffset != len(logs.Logs) || len(logged) != len(logs.Logs) {
		t.Fatalf("logs %+v (%d seen while waiting): %v", logs, len(logged), err)
	}
	rest, err := GetBuildLogs(
		ctx,
		created.TemplateID,
		created.BuildID,
		&BuildLogsOptions{Options: o, Offset: logs.NextOffset},
	)
	if err != nil || len(rest.Logs) != 0 {
		t.Fatalf("logs after the end: %+v %v", rest, err)
	}

	all, err := ListTemplates(ctx, &o)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tpl := range all {
		if tpl.TemplateID == created.TemplateID {
			found = tpl.BuildStatus == "ready" && tpl.MemoryMB == 1024 && tpl.CPUCount == 1
		}
	}
	if !found {
		t.Fatalf("template %s not listed as ready with 1 CPU / 1024 MB: %+v", created.TemplateID, all)
	}
	d, err := GetTemplate(ctx, name, &o)
	if err != nil || d.TemplateID != created.TemplateID || d.BuildStatus != "ready" || len(d.Builds) != 1 ||
		d.Builds[0].Status != "ready" {
		t.Fatalf("get by name: %+v %v", d, err)
	}
	if ok, err := TemplateExists(ctx, name, &o); err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	if ok, err := TemplateExists(ctx, uniqueName("go-none"), &o); err != nil || ok {
		t.Fatalf("exists (none): %v %v", ok, err)
	}

	sbx, err := Create(ctx, name, &CreateOptions{Options: o, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer KillByID(context.Background(), sbx.SandboxID, &o)
	if text, err := sbx.Files.Read(ctx, "/home/user/built.txt", nil); err != nil || text != "built-by-go\n" {
		t.Fatalf("built file: %q %v", text, err)
	}
	if info, err := sbx.GetInfo(ctx); err != nil || info.MemoryMB != 1024 || info.CPUCount != 1 {
		t.Fatalf("resources of a sandbox from the template: %+v %v", info, err)
	}
	if _, err := DeleteTemplate(ctx, created.TemplateID, &o); !errors.Is(err, ErrConflict) {
		t.Fatalf("deleting a template a sandbox runs from: want ErrConflict, got %v", err)
	}
	if err := sbx.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := DeleteTemplate(ctx, created.TemplateID, &o); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ok, err := DeleteTemplate(ctx, created.TemplateID, &o); err != nil || ok {
		t.Fatalf("delete again: %v %v", ok, err)
	}
	if _, err := GetTemplate(ctx, created.TemplateID, &o); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: want ErrNotFound, got %v", err)
	}
}

func TestLiveTemplateBuildFailure(t *testing.T) {
	o := liveTemplates(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	created, err := CreateTemplate(ctx, &TemplateCreateOptions{Name: uniqueName("go-fail")}, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DeleteTemplate(context.Background(), created.TemplateID, &o) })
	err = StartBuild(ctx, created.TemplateID, created.BuildID, &TemplateBuildOptions{
		FromTemplate: "default",
		Steps: []TemplateBuildStep{
			{Name: "fine", Command: "true"},
			{Name: "broken", Command: "echo about to fail >&2; exit 3"},
		},
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = WaitForBuild(
		ctx,
		created.TemplateID,
		created.BuildID,
		&WaitOptions{Options: o, PollInterval: 300 * time.Millisecond},
	)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want a *BuildError, got %v", err)
	}
	if be.Reason.Step != "broken" || be.Reason.ExitCode != 3 || !strings.Contains(be.Error(), "broken") {
		t.Fatalf("reason %+v (%s)", be.Reason, be.Error())
	}
	st, err := GetBuildStatus(ctx, created.TemplateID, created.BuildID, &BuildStatusOptions{Options: o})
	if err != nil || st.Status != "error" || st.Reason == nil || st.Reason.Step != "broken" {
		t.Fatalf("status %+v %v", st, err)
	}
	if _, err := Create(ctx, created.TemplateID, &CreateOptions{Options: o}); err == nil {
		t.Fatal("a sandbox started from a failed template")
	}
}

func TestLiveCommitAsTemplate(t *testing.T) {
	o := liveTemplates(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sbx := newTestSandbox(t, nil)
	if _, err := sbx.Commands.Run(ctx, "echo committed > /home/user/state.txt", nil); err != nil {
		t.Fatal(err)
	}
	no := false
	tpl, err := sbx.CommitAsTemplate(ctx, uniqueName("go-commit"), &CommitOptions{MemoryMB: 1024, Wait: &no})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DeleteTemplate(context.Background(), tpl.TemplateID, &o) })
	if !sbx.IsRunning(ctx) {
		t.Fatal("the source sandbox stopped running")
	}
	if tpl, err = WaitForBuild(ctx, tpl.TemplateID, tpl.BuildID,
		&WaitOptions{Options: o, PollInterval: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// The source sandbox keeps working after the commit.
	if r, err := sbx.Commands.Run(ctx, "cat /home/user/state.txt", nil); err != nil || r.Stdout != "committed\n" {
		t.Fatalf("source after commit: %+v %v", r, err)
	}
	sbx2, err := Create(ctx, tpl.TemplateID, &CreateOptions{Options: o, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer KillByID(context.Background(), sbx2.SandboxID, &o)
	if text, err := sbx2.Files.Read(ctx, "/home/user/state.txt", nil); err != nil || text != "committed\n" {
		t.Fatalf("committed file: %q %v", text, err)
	}
	if info, err := sbx2.GetInfo(ctx); err != nil || info.MemoryMB != 1024 {
		t.Fatalf("resources: %+v %v", info, err)
	}

	// The default: wait until ready.
	tpl2, err := sbx.CommitAsTemplate(ctx, uniqueName("go-commit-wait"), nil)
	if err != nil || tpl2.Status != "ready" {
		t.Fatalf("commit (wait): %+v %v", tpl2, err)
	}
	t.Cleanup(func() { DeleteTemplate(context.Background(), tpl2.TemplateID, &o) })

	if _, err := CommitAsTemplateByID(ctx, "sbx_missing", "x", &CommitOptions{Options: o}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("commit of a missing sandbox: want ErrNotFound, got %v", err)
	}
}
