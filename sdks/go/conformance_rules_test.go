package tensorbox

// The conformance runner's vocabulary: reading a step's arguments, naming results the way the suite does
// (TypeScript's camelCase), and comparing them with `expect` per conformance/README.md.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// args reads a step's arguments.
type args map[string]any

func (a args) str(k string) string {
	if v, ok := a[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

func (a args) int(k string) int {
	n, _ := strconv.Atoi(a.str(k))
	return n
}

// boolPtr is nil when the argument is absent.
func (a args) boolPtr(k string) *bool {
	b, ok := a[k].(bool)
	if !ok {
		return nil
	}
	return &b
}

func (a args) ms(k string) time.Duration { return time.Duration(a.int(k)) * time.Millisecond }

func (a args) strMap(k string) map[string]string {
	m, ok := a[k].(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func (a args) strList(k string) []string {
	l, ok := a[k].([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = fmt.Sprint(v)
	}
	return out
}

// The suite's field names for the SDK's results.

func confInfo(i *SandboxInfo) map[string]any {
	return map[string]any{
		"sandboxId": i.SandboxID, "templateId": i.TemplateID, "name": i.Name, "state": i.State, "cpuCount": i.CPUCount,
		"memoryMB": i.MemoryMB, "diskSizeMB": i.DiskSizeMB, "metadata": i.Metadata, "envdVersion": i.EnvdVersion,
	}
}

func confResult(r *CommandResult) map[string]any {
	return map[string]any{"exitCode": r.ExitCode, "stdout": r.Stdout, "stderr": r.Stderr}
}

func confEntry(e *EntryInfo) map[string]any {
	return map[string]any{
		"name": e.Name, "path": e.Path, "type": e.Type, "size": e.Size, "mode": e.Mode, "permissions": e.Permissions,
		"owner": e.Owner, "group": e.Group,
	}
}

func confEntries(es []EntryInfo) []any {
	out := make([]any, len(es))
	for i := range es {
		out[i] = confEntry(&es[i])
	}
	return out
}

// confCheck compares a result with expect per the README's rules; "" means it matches.
func confCheck(result any, expect map[string]any) string {
	got := jsonValue(result)
	for key, want := range expect {
		want = jsonValue(want)
		list, isList := got.([]any)
		switch {
		case isList && key == "length":
			if !reflect.DeepEqual(float64(len(list)), want) {
				return fmt.Sprintf("length %d, want %v", len(list), want)
			}
		case isList && key == "contains":
			for _, w := range want.([]any) {
				if !containsMatch(list, w.(map[string]any)) {
					return fmt.Sprintf("no element matches %v in %v", w, list)
				}
			}
		case key == "value":
			if !reflect.DeepEqual(got, want) {
				return fmt.Sprintf("value %#v, want %#v", got, want)
			}
		default:
			m, _ := got.(map[string]any)
			if !reflect.DeepEqual(m[key], want) {
				return fmt.Sprintf("%s = %#v, want %#v", key, m[key], want)
			}
		}
	}
	return ""
}

func containsMatch(list []any, want map[string]any) bool {
	for _, e := range list {
		m, _ := e.(map[string]any)
		ok := true
		for k, v := range want {
			if !reflect.DeepEqual(m[k], v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// jsonValue normalises a value to what encoding/json decodes into any (float64 numbers, map[string]any, []any),
// so YAML's ints and the SDK's typed fields compare equal.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}
