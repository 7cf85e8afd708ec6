package tensorbox

// The conformance runner's template operations (conformance/README.md): builds are saved under a name (`save`) and
// referred to by it (`build`); results use the TS SDK's names (templateID, buildID, buildStatus), a build's reason
// flattened into step and exitCode.

import (
	"context"
	"fmt"
	"strings"
	"time"
)

func (r *confRun) saveBuild(name string, c *TemplateCreated) {
	if _, ok := r.builds[name]; !ok {
		r.buildOrder = append(r.buildOrder, name)
	}
	r.builds[name] = c
}

func (r *confRun) templateOp(ctx context.Context, op string, a args) (any, error) {
	o := &r.opts
	switch op {
	case "template.listBaseImages":
		images, err := ListBaseImages(ctx, o)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(images))
		for i, b := range images {
			out[i] = map[string]any{
				"dockerImage": b.DockerImage,
				"osVersion":   b.OSVersion,
				"codename":    b.Codename,
				"status":      b.Status,
				"source":      b.Source,
			}
		}
		return out, nil
	case "template.create":
		c, err := CreateTemplate(
			ctx,
			&TemplateCreateOptions{
				Name:     a.str("name"),
				CPUCount: a.int("cpuCount"),
				MemoryMB: a.int("memoryMB"),
				DiskGB:   a.int("diskGB"),
			},
			o,
		)
		if err != nil {
			return nil, err
		}
		r.saveBuild(firstNonEmpty(a.str("save"), a.str("name")), c)
		return map[string]any{"templateID": c.TemplateID, "buildID": c.BuildID, "names": c.Names}, nil
	case "template.list":
		all, err := ListTemplates(ctx, o)
		if err != nil {
			return nil, err
		}
		name := a.str("name")
		out := []any{}
		for i := range all {
			if name == "" || hasName(append(all[i].Names, all[i].Aliases...), name) {
				out = append(out, confTemplate(&all[i], 0))
			}
		}
		return out, nil
	case "template.get":
		d, err := GetTemplate(ctx, a.str("template"), o)
		if err != nil {
			return nil, err
		}
		return confTemplate(&d.TemplateInfo, len(d.Builds)), nil
	case "template.exists":
		return TemplateExists(ctx, a.str("name"), o)
	case "template.delete":
		return DeleteTemplate(ctx, a.str("template"), o)
	}

	b, ok := r.builds[a.str("build")]
	if !ok {
		return nil, fmt.Errorf("no saved build %q", a.str("build"))
	}
	switch op {
	case "template.startBuild":
		opts := &TemplateBuildOptions{
			FromTemplate: a.str("fromTemplate"),
			FromImage:    a.str("fromImage"),
			StartCmd:     a.str("startCmd"),
			ReadyCmd:     a.str("readyCmd"),
		}
		steps, _ := a["steps"].([]any)
		for _, s := range steps {
			m := args(s.(map[string]any))
			opts.Steps = append(opts.Steps, TemplateBuildStep{Name: m.str("name"), Command: m.str("command")})
		}
		return nil, StartBuild(ctx, b.TemplateID, b.BuildID, opts, o)
	case "template.waitForBuild":
		st, err := WaitForBuild(ctx, b.TemplateID, b.BuildID, &WaitOptions{Options: *o, PollInterval: 200 * time.Millisecond})
		if err != nil {
			return nil, err
		}
		return confBuild(st), nil
	case "template.getBuildStatus":
		st, err := GetBuildStatus(ctx, b.TemplateID, b.BuildID, &BuildStatusOptions{Options: *o})
		if err != nil {
			return nil, err
		}
		return confBuild(st), nil
	case "template.getBuildLogs":
		logs, err := GetBuildLogs(ctx, b.TemplateID, b.BuildID, &BuildLogsOptions{Options: *o})
		if err != nil {
			return nil, err
		}
		out := make([]any, len(logs.Logs))
		for i, e := range logs.Logs {
			out[i] = map[string]any{"level": e.Level, "message": e.Message, "step": e.Step}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

func hasName(names []string, name string) bool {
	for _, n := range names {
		if n == name || strings.HasPrefix(n, name+":") {
			return true
		}
	}
	return false
}

func confTemplate(t *TemplateInfo, builds int) map[string]any {
	return map[string]any{
		"templateID": t.TemplateID, "buildID": t.BuildID, "buildStatus": t.BuildStatus, "cpuCount": t.CPUCount,
		"memoryMB": t.MemoryMB, "names": t.Names, "builds": builds,
	}
}

func confBuild(b *TemplateBuild) map[string]any {
	m := map[string]any{"templateID": b.TemplateID, "buildID": b.BuildID, "status": b.Status}
	if b.Reason != nil {
		m["step"], m["exitCode"] = b.Reason.Step, b.Reason.ExitCode
	}
	return m
}
