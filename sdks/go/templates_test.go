package tensorbox

// Wire-shape tests of the template calls against a recording httptest server: the paths and bodies of
// spec/openapi.yaml, the seeds' {name, command} steps sent as RUN steps, build polling, and a failed build becoming a
// *BuildError.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCreateTemplateAndStartBuildShapes(t *testing.T) {
	srv, reqs := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(202)
		if r.URL.Path == "/v3/templates" {
			w.Write(
				[]byte(
					`{"templateID":"tpl1","buildID":"b1","public":false,"names":["agent-runtime"],"aliases":["agent-runtime"],` +
						`"tags":["default"]}`,
				),
			)
		}
	})
	o := &Options{Domain: srv.URL, APIKey: "e2b_test"}
	ctx := context.Background()
	created, err := CreateTemplate(
		ctx,
		&TemplateCreateOptions{Name: "agent-runtime", CPUCount: 4, MemoryMB: 4096, DiskGB: 2},
		o,
	)
	if err != nil {
		t.Fatal(err)
	}
	if created.TemplateID != "tpl1" || created.BuildID != "b1" ||
		!reflect.DeepEqual(created.Names, []string{"agent-runtime"}) {
		t.Fatalf("created %+v", created)
	}
	err = StartBuild(ctx, "tpl1", "b1", &TemplateBuildOptions{
		FromTemplate: "default",
		Steps: []TemplateBuildStep{
			{Name: "deps", Command: "apt-get install -y ffmpeg"},
			{Type: "ENV", Args: []string{"A", "b"}},
		},
		StartCmd: "python3 /app/server.py", ReadyCmd: "curl -sf localhost:8000/health",
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	got := reqs()
	if len(got) != 2 {
		t.Fatalf("requests %+v", got)
	}
	want0 := map[string]any{"name": "agent-runtime", "cpuCount": 4.0, "memoryMB": 4096.0, "diskSizeMB": 2048.0}
	if got[0].method != "POST" || got[0].path != "/v3/templates" || !reflect.DeepEqual(got[0].body, want0) ||
		got[0].apiKey != "e2b_test" {
		t.Fatalf("create request %+v", got[0])
	}
	want1 := map[string]any{
		"fromTemplate": "default", "startCmd": "python3 /app/server.py",
		"readyCmd": "curl -sf localhost:8000/health", "force": false,
		"steps": []any{
			map[string]any{"type": "RUN", "args": []any{"apt-get install -y ffmpeg"}, "name": "deps"},
			map[string]any{"type": "ENV", "args": []any{"A", "b"}},
		},
	}
	if got[1].path != "/v2/templates/tpl1/builds/b1" || !reflect.DeepEqual(got[1].body, want1) {
		t.Fatalf("start build request %+v", got[1])
	}
}

func TestStartBuildNeedsExactlyOneSource(t *testing.T) {
	for _, b := range []*TemplateBuildOptions{nil, {}, {FromTemplate: "default", FromImage: "ubuntu:24.04"}} {
		if err := StartBuild(context.Background(), "t", "b", b, &Options{Domain: "http://127.0.0.1:1"}); !errors.Is(
			err,
			ErrInvalidArgument,
		) {
			t.Fatalf("%+v: %v", b, err)
		}
	}
}

func TestBuildStatusLogsAndFailedWait(t *testing.T) {
	var polls atomic.Int32
	srv, reqs := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/status"):
			if polls.Add(1) == 1 {
				fmt.Fprint(
					w,
					`{"templateID":"tpl1","buildID":"b1","status":"building","logs":["one"],`+
						`"logEntries":[{"timestamp":"2026-01-01T00:00:00Z","level":"info","message":"one","step":"ok"}]}`,
				)
				return
			}
			fmt.Fprint(
				w,
				`{"templateID":"tpl1","buildID":"b1","status":"error","logs":["boom"],`+
					`"logEntries":[{"timestamp":"2026-01-01T00:00:01Z","level":"error","message":"boom","step":"fail"}],
				"reason":{"message":"step fail exited with 3","step":"fail","exitCode":3,`+
					`"logEntries":[{"timestamp":"2026-01-01T00:00:01Z","level":"error","message":"boom"}]}}`,
			)
		case strings.HasSuffix(r.URL.Path, "/logs"):
			fmt.Fprint(
				w,
				`{"logs":[{"timestamp":"2026-01-01T00:00:01Z","level":"error","message":"boom","step":"fail"}],"nextOffset":2}`,
			)
		}
	})
	o := Options{Domain: srv.URL, APIKey: "k"}
	ctx := context.Background()
	var seen []string
	_, err := WaitForBuild(
		ctx,
		"tpl1",
		"b1",
		&WaitOptions{
			Options:      o,
			PollInterval: time.Millisecond,
			OnLog:        func(e BuildLogEntry) { seen = append(seen, e.Step+":"+e.Message) },
		},
	)
	var be *BuildError
	if !errors.As(err, &be) || !errors.Is(err, ErrBuild) {
		t.Fatalf("want a *BuildError, got %v", err)
	}
	if be.Reason.Step != "fail" || be.Reason.ExitCode != 3 || be.TemplateID != "tpl1" || len(be.Reason.LogEntries) != 1 ||
		!strings.Contains(be.Error(), `step "fail"`) {
		t.Fatalf("build error %+v: %s", be, be.Error())
	}
	if !reflect.DeepEqual(seen, []string{"ok:one", "fail:boom"}) {
		t.Fatalf("OnLog saw %v", seen)
	}
	logs, err := GetBuildLogs(ctx, "tpl1", "b1", &BuildLogsOptions{Options: o, Offset: 1, Limit: 10})
	if err != nil || logs.NextOffset != 2 || len(logs.Logs) != 1 || logs.Logs[0].Level != "error" {
		t.Fatalf("logs %+v %v", logs, err)
	}
	got := reqs()
	if got[0].query != "" || got[1].query != "logsOffset=1" || got[2].path != "/templates/tpl1/builds/b1/logs" ||
		got[2].query != "limit=10&offset=1" {
		t.Fatalf("queries %q %q %q", got[0].query, got[1].query, got[2].query)
	}
}

func TestCommitAsTemplateUsesCommitRouteAndWaits(t *testing.T) {
	var polls atomic.Int32
	srv, reqs := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/sandboxes/sbx1/commit":
			w.WriteHeader(202)
			fmt.Fprint(
				w,
				`{"templateID":"tpl9","buildID":"b9","public":false,"names":["ffmpeg"],"aliases":["ffmpeg"],"tags":[]}`,
			)
		case r.URL.Path == "/templates/tpl9/builds/b9/status":
			status := "building"
			if polls.Add(1) > 1 {
				status = "ready"
			}
			fmt.Fprintf(w, `{"templateID":"tpl9","buildID":"b9","status":"%s","logs":[],"logEntries":[]}`, status)
		default:
			w.WriteHeader(404)
		}
	})
	o := Options{Domain: srv.URL, APIKey: "k"}
	sbx := &Sandbox{SandboxID: "sbx1", conn: resolveOptions(&o)}
	tpl, err := sbx.CommitAsTemplate(
		context.Background(),
		"ffmpeg",
		&CommitOptions{CPUCount: 2, MemoryMB: 2048, DiskGB: 40, PollInterval: time.Millisecond},
	)
	if err != nil || tpl.TemplateID != "tpl9" || tpl.Status != "ready" {
		t.Fatalf("%+v %v", tpl, err)
	}
	got := reqs()
	if len(got) != 3 || got[0].method != "POST" ||
		!reflect.DeepEqual(
			got[0].body,
			map[string]any{"name": "ffmpeg", "cpuCount": 2.0, "memoryMB": 2048.0, "diskSizeMB": 40960.0},
		) {
		t.Fatalf("requests %+v", got)
	}
	no := false
	tpl, err = CommitAsTemplateByID(context.Background(), "sbx1", "ffmpeg", &CommitOptions{Options: o, Wait: &no})
	if err != nil || tpl.BuildID != "b9" || len(reqs()) != 5 || reqs()[4].query != "limit=1" {
		t.Fatalf("no wait: %+v %v (%d requests)", tpl, err, len(reqs()))
	}
}

func TestGetTemplateConvertsBuilds(t *testing.T) {
	srv, _ := recordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(
			w,
			`{"templateID":"tpl1","public":false,"names":["x"],"aliases":["x"],"createdAt":"2026-01-01T00:00:00Z",`+
				`"updatedAt":"2026-01-01T00:00:00Z",
			"spawnCount":0,"buildCount":2,"cpuCount":2,"memoryMB":1024,"buildStatus":"ready","buildID":"b2",
			"builds":[{"buildID":"b2","status":"ready","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z",`+
				`"cpuCount":2,"memoryMB":1024,"diskSizeMB":40960,"envdVersion":"0.2.0","source":"template default"},
			{"buildID":"b1","status":"error","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z",`+
				`"cpuCount":2,"memoryMB":1024,"diskSizeMB":40960,"envdVersion":"0.2.0","reason":{"message":"m","step":"s"}}]}`,
		)
	})
	d, err := GetTemplate(context.Background(), "x", &Options{Domain: srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if d.TemplateID != "tpl1" || d.BuildStatus != "ready" || d.MemoryMB != 1024 || len(d.Builds) != 2 ||
		d.Builds[0].Source != "template default" ||
		d.Builds[1].Reason.Step != "s" ||
		d.EnvdVersion != "0.2.0" {
		t.Fatalf("%+v", d)
	}
}
