package agent_test

// POST /files/compose: sources concatenated in order into the destination, then removed; as the user.

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func (e *env) compose(body map[string]any) (int, string) {
	e.t.Helper()
	data, _ := json.Marshal(body)
	st, _, out := e.do(
		"POST",
		"/files/compose",
		strings.NewReader(string(data)),
		map[string]string{"Content-Type": "application/json"},
	)
	return st, string(out)
}

func TestCompose(t *testing.T) {
	u := newTestUser(t)
	e := newEnv(t)
	for i, part := range []string{"one ", "two ", "three"} {
		os.WriteFile(u.home+"/part"+string(rune('0'+i)), []byte(part), 0o644)
		os.Chown(u.home+"/part"+string(rune('0'+i)), u.uid, u.uid)
	}
	st, out := e.compose(
		map[string]any{
			"source_paths": []string{"part0", "part1", "part2"},
			"destination":  "out/whole.txt",
			"username":     u.name,
		},
	)
	if st != 200 || !strings.Contains(out, `"path":"`+u.home+`/out/whole.txt"`) {
		t.Fatalf("compose: %d %s", st, out)
	}
	if b, _ := os.ReadFile(u.home + "/out/whole.txt"); string(b) != "one two three" {
		t.Fatalf("content %q", b)
	}
	if ownerOf(t, u.home+"/out/whole.txt") != u.uid {
		t.Fatal("the composed file is not the user's")
	}
	if _, err := os.Stat(u.home + "/part0"); !os.IsNotExist(err) {
		t.Fatal("a source was left")
	}
	// Bad requests, and what the user may not read, leave everything as it was.
	os.WriteFile(u.home+"/keep", []byte("keep"), 0o644)
	os.WriteFile("/root/.envd-compose-secret", []byte("secret"), 0o600)
	defer os.Remove("/root/.envd-compose-secret")
	for _, c := range []struct {
		body map[string]any
		want int
	}{
		{map[string]any{"source_paths": []string{}, "destination": "x", "username": u.name}, 400},
		{map[string]any{"source_paths": []string{"keep"}, "destination": "keep", "username": u.name}, 400},
		{map[string]any{"source_paths": []string{"keep", "missing"}, "destination": "y", "username": u.name}, 404},
		{map[string]any{"source_paths": []string{"keep", "/root/.envd-compose-secret"}, "destination": "z",
			"username": u.name}, 403},
		{map[string]any{"source_paths": []string{"keep", u.home}, "destination": "w", "username": u.name}, 400},
	} {
		if st, out := e.compose(c.body); st != c.want {
			t.Fatalf("%v: %d %s, want %d", c.body, st, out, c.want)
		}
	}
	if b, _ := os.ReadFile(u.home + "/keep"); string(b) != "keep" {
		t.Fatal("a failed compose removed a source")
	}
	for _, name := range []string{"y", "z", "w"} {
		if _, err := os.Stat(u.home + "/" + name); !os.IsNotExist(err) {
			t.Fatalf("a failed compose left %s", name)
		}
	}
	des, _ := os.ReadDir(u.home)
	for _, de := range des {
		if strings.Contains(de.Name(), ".compose-") {
			t.Fatalf("temporary file left: %s", de.Name())
		}
	}
}
