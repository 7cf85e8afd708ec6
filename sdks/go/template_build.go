package tensorbox

// BuildTemplate: a TemplateBuilder definition through the two-call build API — CreateTemplate under the alias, each
// Copy's files uploaded as a tar (owners and mtimes zeroed, names sorted, so the same files give the same hash and the
// server skips uploads it has), a Dockerfile's context likewise, StartBuild, then WaitForBuild.

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// BuildTemplateOptions configures BuildTemplate.
type BuildTemplateOptions struct {
	Options
	// Alias is the template's name (optionally name:tag); sandboxes start from it. Required.
	Alias    string
	CPUCount int
	MemoryMB int
	// DiskGB is the writable disk of each sandbox, in GiB.
	DiskGB int
	// Isolation is what the template's sandboxes run in: "container" or "microvm" (empty: the server's default).
	Isolation string
	// SkipCache rebuilds every step, ignoring cached results.
	SkipCache bool
	// OnBuildLogs receives each new build log entry, in order.
	OnBuildLogs func(BuildLogEntry)
	// PollInterval between status polls (default 500 ms). Bound the whole wait with ctx.
	PollInterval time.Duration
}

// TemplateBuildInfo is a finished BuildTemplate.
type TemplateBuildInfo struct {
	TemplateID string
	BuildID    string
	Alias      string
	Status     string
}

var copyLineRe = regexp.MustCompile(`(?im)^\s*(COPY|ADD)\s`)

// BuildTemplate builds a definition as opts.Alias and waits until it is ready; a failed build is a *BuildError.
//
//	info, err := tensorbox.BuildTemplate(ctx, t, &tensorbox.BuildTemplateOptions{
//		Alias: "my-app", CPUCount: 2, MemoryMB: 1024,
//	})
func BuildTemplate(ctx context.Context, t *TemplateBuilder, opts *BuildTemplateOptions) (*TemplateBuildInfo, error) {
	if t == nil || opts == nil || opts.Alias == "" {
		return nil, newError(KindInvalidArgument, "build template: a definition and an alias are required")
	}
	req, err := t.BuildRequest()
	if err != nil {
		return nil, err
	}
	root := t.FileContextPath
	if root == "" {
		root = "."
	}
	if req.Dockerfile != "" && !strings.Contains(req.Dockerfile, "\n") {
		if b, err := os.ReadFile(req.Dockerfile); err == nil {
			req.Dockerfile = string(b)
		}
	}
	// Every tar is made before the template is registered, so a bad copy source leaves nothing behind.
	tars := map[int][]byte{}
	for i := range req.Steps {
		src, ok := t.copies[i]
		if !ok {
			continue
		}
		paths, err := expandSource(root, src)
		if err != nil {
			return nil, err
		}
		if tars[i], err = pack(root, paths); err != nil {
			return nil, err
		}
	}
	var context []byte
	if req.Dockerfile != "" && copyLineRe.MatchString(req.Dockerfile) {
		if context, err = pack(root, []string{"."}); err != nil {
			return nil, err
		}
	}
	spec := &TemplateCreateOptions{
		Name: opts.Alias, CPUCount: opts.CPUCount, MemoryMB: opts.MemoryMB, DiskGB: opts.DiskGB, Isolation: opts.Isolation,
	}
	created, err := CreateTemplate(ctx, spec, &opts.Options)
	if err != nil {
		return nil, err
	}
	for i, tar := range tars {
		if req.Steps[i].FilesHash, _, err = UploadTemplateFiles(ctx, created.TemplateID, tar, &opts.Options); err != nil {
			return nil, err
		}
	}
	if context != nil {
		if req.FilesHash, _, err = UploadTemplateFiles(ctx, created.TemplateID, context, &opts.Options); err != nil {
			return nil, err
		}
	}
	req.Force = req.Force || opts.SkipCache
	if err := StartBuild(ctx, created.TemplateID, created.BuildID, req, &opts.Options); err != nil {
		return nil, err
	}
	wait := &WaitOptions{Options: opts.Options, PollInterval: opts.PollInterval, OnLog: opts.OnBuildLogs}
	b, err := WaitForBuild(ctx, created.TemplateID, created.BuildID, wait)
	if err != nil {
		return nil, err
	}
	return &TemplateBuildInfo{
		TemplateID: created.TemplateID,
		BuildID:    created.BuildID,
		Alias:      opts.Alias,
		Status:     b.Status,
	}, nil
}

func pack(root string, paths []string) ([]byte, error) {
	data, err := packTar(root, paths)
	if err != nil {
		return nil, newError(KindInvalidArgument, "pack %s: %v", strings.Join(paths, ", "), err)
	}
	return data, nil
}

// expandSource is the context-relative paths a Copy source names (a glob in its last segment is expanded).
func expandSource(root, src string) ([]string, error) {
	if !strings.ContainsAny(src, "*?[") {
		return []string{src}, nil
	}
	dir, pattern := path.Split(src)
	if strings.ContainsAny(dir, "*?[") {
		return nil, newError(KindInvalidArgument, "copy source %q: wildcards only in the last path segment", src)
	}
	entries, _ := os.ReadDir(filepath.Join(root, dir))
	var out []string
	for _, e := range entries {
		if ok, _ := path.Match(pattern, e.Name()); ok {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, newError(KindInvalidArgument, "copy source %q matches no file in %s", src, root)
	}
	return out, nil
}

// packTar is a deterministic tar of paths (relative to root; directories recursively; symlinks kept as links).
func packTar(root string, paths []string) ([]byte, error) {
	names := map[string]bool{}
	for _, p := range paths {
		rel := path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "./"))
		if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
			return nil, newError(KindInvalidArgument, "%q is outside the file context %s", p, root)
		}
		top := filepath.Join(root, rel)
		if _, err := os.Lstat(top); err != nil {
			return nil, err
		}
		err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(root, p)
			if r != "." {
				names[filepath.ToSlash(r)] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, n := range sorted {
		abs := filepath.Join(root, filepath.FromSlash(n))
		st, err := os.Lstat(abs)
		if err != nil {
			return nil, err
		}
		link := ""
		if st.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(abs); err != nil {
				return nil, err
			}
		}
		h, err := tar.FileInfoHeader(st, link)
		if err != nil {
			return nil, err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = n, 0, 0, "", ""
		h.ModTime, h.AccessTime, h.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		h.Format = tar.FormatPAX
		if st.IsDir() {
			h.Name += "/"
		}
		if err := w.WriteHeader(h); err != nil {
			return nil, err
		}
		if st.Mode().IsRegular() {
			data, err := os.ReadFile(abs)
			if err != nil {
				return nil, err
			}
			if _, err := w.Write(data); err != nil {
				return nil, err
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
