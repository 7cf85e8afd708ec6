package agent

// POST /files/compose (E2B envd's composite upload): `{"source_paths": [...], "destination": "...", "username"?}`
// concatenates the sources in order into the destination (through a temporary file beside it, renamed over it, so a
// reader never sees half of it), then removes the sources. Everything runs as the user: sources must be readable and
// removable by the user, the destination writable (missing parent directories as for uploads, dirs.go).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
)

type composeRequest struct {
	SourcePaths []string `json:"source_paths"`
	Destination string   `json:"destination"`
	Username    string   `json:"username"`
}

func (a *Agent) handleCompose(w http.ResponseWriter, r *http.Request) {
	var req composeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if len(req.SourcePaths) == 0 {
		writeError(w, http.StatusBadRequest, "source_paths must not be empty")
		return
	}
	if req.Destination == "" {
		writeError(w, http.StatusBadRequest, "destination is required")
		return
	}
	u, err := a.resolveUser(req.Username)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	dest := a.resolvePath(u, req.Destination)
	sources := make([]string, len(req.SourcePaths))
	for i, src := range req.SourcePaths {
		sources[i] = a.resolvePath(u, src)
		if sources[i] == dest {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("source path %q cannot be the same as destination", src))
			return
		}
	}
	if err := ensureDirs(u, filepath.Dir(dest)); err != nil {
		writeError(w, httpStatusFor(err), fmt.Sprintf("cannot write '%s': %s", dest, errText(err)))
		return
	}
	var stored map[string]string
	err = asUser(u, func() error {
		for _, src := range sources {
			st, err := os.Stat(src)
			if err != nil {
				return err
			}
			if !st.Mode().IsRegular() {
				return &fs.PathError{Op: "compose", Path: src, Err: syscall.EISDIR}
			}
		}
		tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".compose-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name()) // gone after the rename; left only on failure
		for _, src := range sources {
			if err := appendFile(tmp, src); err != nil {
				tmp.Close()
				return err
			}
		}
		if err := tmp.Chmod(0o644); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), dest); err != nil {
			return err
		}
		for _, src := range sources {
			_ = os.Remove(src)
		}
		stored = readMetadata(dest)
		return nil
	})
	if err != nil {
		status := httpStatusFor(err)
		if errors.Is(err, syscall.EISDIR) {
			status = http.StatusBadRequest
		}
		writeError(w, status, fmt.Sprintf("cannot compose '%s': %s", dest, errText(err)))
		return
	}
	writeJSON(w, uploadedEntry{Path: dest, Name: filepath.Base(dest), Type: "file", Metadata: stored})
}

// appendFile copies src to the end of dst (copy_file_range where the filesystem can: no data through user space).
func appendFile(dst *os.File, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(dst, f)
	return err
}
