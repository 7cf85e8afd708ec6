package tensorbox

// The fluent template definition, shaped like E2B's: NewTemplate starts one, one source (FromTemplate, FromImage,
// FromBaseImage, FromDockerfile), then steps in order (Copy, RunCmd, SetEnvs, SetWorkdir, SetUser, AptInstall,
// PipInstall, NpmInstall) and SetStartCmd(cmd, WaitForPort(8000)); BuildTemplate builds it (template_build.go).
// Methods chain; the first invalid call records an error that Err and BuildTemplate return, before anything is
// created on the server.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var (
	envNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	userNameRe = regexp.MustCompile(`(?i)^([a-z_][a-z0-9_-]*[$]?|\d+)$`)
	octalRe    = regexp.MustCompile(`^[0-7]{3,4}$`)
)

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// WaitForPort is a ready check that passes once something listens on port.
func WaitForPort(port int) string { return fmt.Sprintf(`ss -tuln | grep -q ':%d\b'`, port) }

// WaitForURL is a ready check that passes once url answers with statusCode (0 means 200).
func WaitForURL(url string, statusCode int) string {
	if statusCode == 0 {
		statusCode = 200
	}
	return fmt.Sprintf(`curl -s -o /dev/null -w '%%{http_code}' %s | grep -q '^%d$'`, shellQuote(url), statusCode)
}

// WaitForFile is a ready check that passes once the file exists.
func WaitForFile(path string) string { return "[ -f " + shellQuote(path) + " ]" }

// WaitForProcess is a ready check that passes once a process of this name runs.
func WaitForProcess(name string) string { return "pgrep " + shellQuote(name) + " > /dev/null" }

// CopyOptions configures TemplateBuilder.Copy.
type CopyOptions struct {
	// User owns the copied files ("user" or "user:group").
	User string
	// Mode of the copied files, e.g. 0o755 (0: as they are).
	Mode uint32
}

// TemplateBuilder is a template definition; every method adds to it and returns it.
type TemplateBuilder struct {
	// FileContextPath is the directory Copy sources are relative to (default: the working directory).
	FileContextPath string

	source   TemplateBuildOptions
	sources  int
	steps    []TemplateBuildStep
	copies   map[int]string
	startCmd string
	readyCmd string
	err      error
}

// NewTemplate starts a template definition; fileContextPath ("" = the working directory) is where Copy reads.
//
//	t := tensorbox.NewTemplate("").FromTemplate("default").AptInstall("jq").
//		SetStartCmd("python3 -m http.server 8000", tensorbox.WaitForPort(8000))
func NewTemplate(fileContextPath string) *TemplateBuilder {
	return &TemplateBuilder{FileContextPath: fileContextPath, copies: map[int]string{}}
}

// Err is the first invalid call's error, if any.
func (t *TemplateBuilder) Err() error { return t.err }

func (t *TemplateBuilder) fail(format string, args ...any) *TemplateBuilder {
	if t.err == nil {
		t.err = newError(KindInvalidArgument, format, args...)
	}
	return t
}

func (t *TemplateBuilder) from(kind, v string, set func()) *TemplateBuilder {
	if t.sources > 0 {
		return t.fail("a template has one source: FromTemplate, FromImage, FromBaseImage or FromDockerfile")
	}
	if strings.TrimSpace(v) == "" {
		return t.fail("%s needs a value", kind)
	}
	t.sources++
	set()
	return t
}

// FromTemplate builds on a ready template (ID or name).
func (t *TemplateBuilder) FromTemplate(template string) *TemplateBuilder {
	return t.from("FromTemplate", template, func() { t.source.FromTemplate = template })
}

// FromImage builds from an image (ListBaseImages names those the server has).
func (t *TemplateBuilder) FromImage(image string) *TemplateBuilder {
	return t.from("FromImage", image, func() { t.source.FromImage = image })
}

// FromBaseImage builds on the server's base template ("default").
func (t *TemplateBuilder) FromBaseImage() *TemplateBuilder { return t.FromTemplate("default") }

// FromDockerfile builds from a Dockerfile (its text, or a path to it); its COPY/ADD read FileContextPath.
func (t *TemplateBuilder) FromDockerfile(dockerfileOrPath string) *TemplateBuilder {
	return t.from("FromDockerfile", dockerfileOrPath, func() { t.source.Dockerfile = dockerfileOrPath })
}

// Copy copies a local file or directory (relative to FileContextPath; a glob in the last segment) to dest.
func (t *TemplateBuilder) Copy(src, dest string, opts *CopyOptions) *TemplateBuilder {
	if src == "" || dest == "" {
		return t.fail("Copy needs a source and a destination")
	}
	if opts == nil {
		opts = &CopyOptions{}
	}
	mode := ""
	if opts.Mode != 0 {
		mode = fmt.Sprintf("%04o", opts.Mode)
		if !octalRe.MatchString(mode) {
			return t.fail("Copy mode %o is not a file mode", opts.Mode)
		}
	}
	t.copies[len(t.steps)] = src
	t.steps = append(t.steps, TemplateBuildStep{Type: "COPY", Args: []string{src, dest, opts.User, mode}})
	return t
}

// RunCmd runs a command, as root unless an earlier SetUser says otherwise.
func (t *TemplateBuilder) RunCmd(cmd string) *TemplateBuilder { return t.RunCmdAs(cmd, "") }

// RunCmdAs runs a command as user ("" = the current build user).
func (t *TemplateBuilder) RunCmdAs(cmd, user string) *TemplateBuilder {
	if strings.TrimSpace(cmd) == "" {
		return t.fail("RunCmd needs a command")
	}
	args := []string{cmd}
	if user != "" {
		args = append(args, user)
	}
	t.steps = append(t.steps, TemplateBuildStep{Type: "RUN", Args: args})
	return t
}

// SetEnvs sets environment variables for later steps and every sandbox of the template.
func (t *TemplateBuilder) SetEnvs(envs map[string]string) *TemplateBuilder {
	keys := make([]string, 0, len(envs))
	for k := range envs {
		if !envNameRe.MatchString(k) {
			return t.fail("%q is not a valid environment variable name", k)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return t
	}
	sort.Strings(keys)
	args := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, envs[k])
	}
	t.steps = append(t.steps, TemplateBuildStep{Type: "ENV", Args: args})
	return t
}

// SetWorkdir sets the working directory of later steps and of the template's sandboxes (absolute).
func (t *TemplateBuilder) SetWorkdir(path string) *TemplateBuilder {
	if !strings.HasPrefix(path, "/") {
		return t.fail("SetWorkdir needs an absolute path, not %q", path)
	}
	t.steps = append(t.steps, TemplateBuildStep{Type: "WORKDIR", Args: []string{path}})
	return t
}

// SetUser sets the user of later steps and the template's default user (created when missing).
func (t *TemplateBuilder) SetUser(user string) *TemplateBuilder {
	if !userNameRe.MatchString(user) {
		return t.fail("%q is not a user name", user)
	}
	t.steps = append(t.steps, TemplateBuildStep{Type: "USER", Args: []string{user}})
	return t
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = shellQuote(x)
	}
	return strings.Join(q, " ")
}

// AptInstall installs Debian packages (as root, without recommends).
func (t *TemplateBuilder) AptInstall(packages ...string) *TemplateBuilder {
	if len(packages) == 0 {
		return t.fail("AptInstall needs packages")
	}
	const install = "DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y --no-install-recommends "
	return t.RunCmdAs("apt-get update && "+install+quoteAll(packages), "root")
}

// PipInstall installs Python packages system-wide (as root); none: `pip install .`.
func (t *TemplateBuilder) PipInstall(packages ...string) *TemplateBuilder {
	if len(packages) == 0 {
		return t.RunCmdAs("pip install .", "root")
	}
	return t.RunCmdAs("pip install "+quoteAll(packages), "root")
}

// NpmInstall runs `npm install` of packages in the working directory (none: its package.json).
func (t *TemplateBuilder) NpmInstall(packages ...string) *TemplateBuilder {
	return t.RunCmd(strings.TrimSpace("npm install " + quoteAll(packages)))
}

// NpmInstallGlobal installs npm packages globally (as root).
func (t *TemplateBuilder) NpmInstallGlobal(packages ...string) *TemplateBuilder {
	return t.RunCmdAs("npm install -g "+quoteAll(packages), "root")
}

// SetStartCmd sets the command every sandbox runs; with a ready check (WaitForPort, WaitForURL, WaitForFile or any
// command) the build captures it running, so sandboxes start with it ready.
func (t *TemplateBuilder) SetStartCmd(startCmd, readyCmd string) *TemplateBuilder {
	if strings.TrimSpace(startCmd) == "" {
		return t.fail("SetStartCmd needs a command")
	}
	t.startCmd, t.readyCmd = startCmd, readyCmd
	return t
}

// SetReadyCmd sets the ready check alone (with SetStartCmd's command or the Dockerfile's CMD).
func (t *TemplateBuilder) SetReadyCmd(readyCmd string) *TemplateBuilder {
	t.readyCmd = readyCmd
	return t
}

// SkipCache rebuilds every step, ignoring cached results.
func (t *TemplateBuilder) SkipCache() *TemplateBuilder {
	t.source.Force = true
	return t
}

// BuildRequest is the build this definition makes (COPY steps without their FilesHash yet).
func (t *TemplateBuilder) BuildRequest() (*TemplateBuildOptions, error) {
	if t.err != nil {
		return nil, t.err
	}
	if t.sources == 0 {
		return nil, newError(
			KindInvalidArgument,
			"a template needs a source: FromTemplate, FromImage, FromBaseImage or FromDockerfile",
		)
	}
	b := t.source
	b.Steps = make([]TemplateBuildStep, len(t.steps))
	for i, s := range t.steps {
		s.Args = append([]string(nil), s.Args...)
		b.Steps[i] = s
	}
	b.StartCmd, b.ReadyCmd = t.startCmd, t.readyCmd
	return &b, nil
}
