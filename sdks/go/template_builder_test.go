package tensorbox

// The fluent template builder without a server: the build request it makes, the first invalid call's error (kept
// and returned before anything is created), safe quoting, and the deterministic tar of Copy (symlinks kept,
// escapes refused).

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTemplateBuilderRequest(t *testing.T) {
	b := NewTemplate("").FromTemplate("default").
		Copy("app", "/app", &CopyOptions{User: "user", Mode: 0o755}).
		RunCmd("echo a").
		SetEnvs(map[string]string{"B": "two words", "A": "1"}).
		SetWorkdir("/app").
		SetUser("svc").
		AptInstall("jq", "curl").
		PipInstall("requests==2.*").
		NpmInstallGlobal("left-pad").
		SetStartCmd("python3 -m http.server 8000", WaitForPort(8000))
	req, err := b.BuildRequest()
	if err != nil {
		t.Fatal(err)
	}
	got := [][]string{}
	for _, s := range req.Steps {
		got = append(got, append([]string{s.Type}, s.Args...))
	}
	want := [][]string{
		{"COPY", "app", "/app", "user", "0755"},
		{"RUN", "echo a"},
		{"ENV", "A", "1", "B", "two words"},
		{"WORKDIR", "/app"},
		{"USER", "svc"},
		{
			"RUN",
			"apt-get update && DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y " +
				"--no-install-recommends 'jq' 'curl'",
			"root",
		},
		{"RUN", "pip install 'requests==2.*'", "root"},
		{"RUN", "npm install -g 'left-pad'", "root"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("steps:\n%q\nwant\n%q", got, want)
	}
	if req.FromTemplate != "default" || req.ReadyCmd != `ss -tuln | grep -q ':8000\b'` || req.StartCmd == "" {
		t.Fatalf("request %+v", req)
	}
}

func TestTemplateBuilderErrors(t *testing.T) {
	bad := map[string]*TemplateBuilder{
		"two sources":  NewTemplate("").FromTemplate("a").FromImage("b"),
		"empty source": NewTemplate("").FromTemplate(""),
		"relative dir": NewTemplate("").FromTemplate("a").SetWorkdir("rel"),
		"env name":     NewTemplate("").FromTemplate("a").SetEnvs(map[string]string{"BAD-NAME": "x"}),
		"user":         NewTemplate("").FromTemplate("a").SetUser("no spaces"),
		"no source":    NewTemplate("").RunCmd("x"),
		"no packages":  NewTemplate("").FromTemplate("a").AptInstall(),
	}
	for name, b := range bad {
		if _, err := b.BuildRequest(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// BuildTemplate refuses before any request: the options point at no server.
	_, err := BuildTemplate(
		context.Background(),
		bad["relative dir"],
		&BuildTemplateOptions{Alias: "x", Options: Options{Domain: "http://127.0.0.1:1", APIKey: "e2b_x"}},
	)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("BuildTemplate: %v", err)
	}
	escape := NewTemplate(t.TempDir()).FromTemplate("a").Copy("../outside", "/x", nil)
	if _, err := BuildTemplate(context.Background(), escape,
		&BuildTemplateOptions{Alias: "x", Options: Options{Domain: "http://127.0.0.1:1", APIKey: "e2b_x"}}); !errors.Is(
		err,
		ErrInvalidArgument,
	) {
		t.Fatalf("copy outside the context: %v", err)
	}
}

func TestTemplateBuilderQuoting(t *testing.T) {
	req, _ := NewTemplate("").FromTemplate("a").AptInstall("x'; touch pwned; echo '").BuildRequest()
	cmd := req.Steps[0].Args[0]
	cmd = `printf '%s\n' ` + cmd[strings.Index(cmd, "--no-install-recommends ")+len("--no-install-recommends "):]
	dir := t.TempDir()
	c := exec.Command("sh", "-c", cmd)
	c.Dir = dir
	out, err := c.Output()
	if err != nil || string(out) != "x'; touch pwned; echo '\n" {
		t.Fatalf("%q %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("the name broke out of its quotes")
	}
}

func TestPackTar(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "app", strings.Repeat("d", 60), strings.Repeat("e", 70))
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "app", "a.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(deep, "f.bin"), bytes.Repeat([]byte{7}, 1500), 0o644)
	os.Symlink("a.txt", filepath.Join(root, "app", "link"))
	os.Symlink("/nowhere", filepath.Join(root, "app", "dangling"))
	a, err := packTar(root, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := packTar(root, []string{"./app"})
	if !bytes.Equal(a, b) {
		t.Fatal("not deterministic")
	}
	links := map[string]string{}
	r := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := r.Next()
		if err != nil {
			break
		}
		if h.Uid != 0 || h.ModTime.Unix() != 0 {
			t.Fatalf("%s: uid %d mtime %v", h.Name, h.Uid, h.ModTime)
		}
		if h.Typeflag == tar.TypeSymlink {
			links[h.Name] = h.Linkname
		}
	}
	if links["app/link"] != "a.txt" || links["app/dangling"] != "/nowhere" {
		t.Fatalf("links %v", links)
	}
	if _, err := packTar(root, []string{"../etc"}); err == nil {
		t.Fatal("escape allowed")
	}
}
