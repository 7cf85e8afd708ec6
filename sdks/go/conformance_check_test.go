package tensorbox

// Tests of the conformance runner's own rules (no server needed): the scenarios parse, and expectations compare as
// conformance/README.md says.

import "testing"

func TestConformanceScenariosParse(t *testing.T) {
	for _, sc := range loadScenarios(t) {
		if sc.Name == "" || len(sc.Steps) == 0 {
			t.Errorf("scenario %+v has no name or steps", sc)
		}
	}
}

func TestConfCheck(t *testing.T) {
	entries := []any{
		map[string]any{"name": "new.txt", "type": "file", "size": int64(1)},
		map[string]any{"name": "src", "type": "dir", "size": int64(4096)},
	}
	cases := []struct {
		result any
		expect map[string]any
		ok     bool
	}{
		{entries, map[string]any{"length": 2}, true},
		{entries, map[string]any{"length": 3}, false},
		{entries, map[string]any{"contains": []any{map[string]any{"name": "src", "type": "dir"}}}, true},
		{entries, map[string]any{"contains": []any{map[string]any{"name": "src", "type": "file"}}}, false},
		{true, map[string]any{"value": true}, true},
		{"Hello", map[string]any{"value": "Hello!"}, false},
		{map[string]any{"exitCode": 3, "stdout": "partial\n"}, map[string]any{"exitCode": 3}, true},
		{map[string]any{"metadata": map[string]string{"a": "b"}}, map[string]any{"metadata": map[string]any{"a": "b"}}, true},
		{map[string]any{"cpuCount": 2}, map[string]any{"cpuCount": 4}, false},
	}
	for i, c := range cases {
		if msg := confCheck(c.result, c.expect); (msg == "") != c.ok {
			t.Errorf("case %d: ok=%v, message %q", i, c.ok, msg)
		}
	}
}

func TestConfSubst(t *testing.T) {
	r := &confRun{sbx: fakeSandbox(""), runID: "r1"}
	got := r.subst(map[string]any{"id": "${sandboxId}", "h": []any{"${host:8000}"}, "n": "tpl-${runId}"}).(map[string]any)
	if got["id"] != "sbxabc" || got["h"].([]any)[0] != "sbxabc-8000.127.0.0.1:3000" || got["n"] != "tpl-r1" {
		t.Fatalf("%v", got)
	}
}
