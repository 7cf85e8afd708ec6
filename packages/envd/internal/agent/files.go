package agent

// GET /files (download) and POST /files (upload), as the `username` of the query (default: the default user).

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// httpStatusFor maps a file error to the status the e2b SDKs turn into the right error class.
func httpStatusFor(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		// The user may not touch the path (or it is on a read-only mount): forbidden. 401 stays for who is asking
		// (token, signature, unknown user), so SDKs do not mistake a file's mode for a bad credential.
		return http.StatusForbidden
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return http.StatusInsufficientStorage
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ENAMETOOLONG):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// errText is an OS error without the path (messages name the path themselves).
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// filesUser authorizes the request and resolves its user; false means an error was written.
func (a *Agent) filesUser(w http.ResponseWriter, r *http.Request, op string) (*sandboxUser, bool) {
	if !a.authorizeFiles(w, r, op) {
		return nil, false
	}
	u, err := a.resolveUser(r.URL.Query().Get("username"))
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return nil, false
	}
	return u, true
}

func (a *Agent) handleDownload(w http.ResponseWriter, r *http.Request) {
	u, ok := a.filesUser(w, r, "read")
	if !ok {
		return
	}
	path := a.resolvePath(u, r.URL.Query().Get("path"))
	var f *os.File
	err := asUser(u, func() (err error) {
		f, err = os.Open(path)
		return err
	})
	if err != nil {
		writeError(w, httpStatusFor(err), fmt.Sprintf("cannot read '%s': %s", path, errText(err)))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if st.IsDir() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("'%s' is a directory", path))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().
		Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(path)}))
	if acceptsGzip(r) && r.Header.Get("Range") == "" {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // speed over ratio: files are often already compressed
		_, _ = io.Copy(gz, f)
		_ = gz.Close()
		return
	}
	http.ServeContent(w, r, "", st.ModTime(), f) // Content-Length, ranges, conditional requests
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := strings.ReplaceAll(params, " ", "")
		if strings.TrimSpace(enc) == "gzip" && q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000" {
			return true
		}
	}
	return false
}

// uploadedEntry is one written file in POST /files' answer; metadata as read back from the file (absent when none).
type uploadedEntry struct {
	Path     string            `json:"path"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// writeFile writes r to path as the user and makes md the file's metadata; what it reads back is returned. Missing
// parent directories are created (owned by the user, see dirs.go); an existing file is truncated and rewritten in
// place (same inode, so links stay intact). The calls are E2B envd's, in its order, so a watcher sees the same events:
// a new file CREATE, CHMOD (chown to the user), WRITE; an existing one CHMOD, WRITE (truncate), WRITE; metadata adds
// CHMOD.
func writeFile(u *sandboxUser, path string, r io.Reader, md map[string]string) (map[string]string, error) {
	if err := ensureDirs(u, filepath.Dir(path)); err != nil {
		return nil, err
	}
	var stored map[string]string
	// The copy runs with the user's credentials too, so quotas and root-reserved blocks apply as for the user.
	err := asUser(u, func() error {
		chowned := false
		if st, err := os.Stat(path); err == nil {
			if st.IsDir() {
				return &fs.PathError{Op: "write", Path: path, Err: syscall.EISDIR}
			}
			// Only the owner may do this as the user; for anyone else's file it is a no-op, as is the event.
			chowned = os.Chown(path, int(u.UID), int(u.GID)) == nil
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if !chowned {
			_ = f.Chown(int(u.UID), int(u.GID))
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := writeMetadata(f, md); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		stored = readMetadata(path)
		return nil
	})
	return stored, err
}

// partPath is the part's filename as sent: multipart.Part.FileName drops the directories, but multi-file uploads
// carry the full destination path there.
func partPath(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

func (a *Agent) handleUpload(w http.ResponseWriter, r *http.Request) {
	u, ok := a.filesUser(w, r, "write")
	if !ok {
		return
	}
	reqPath := r.URL.Query().Get("path")
	body := r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid gzip body")
			return
		}
		body = gz
	}
	md := metadataFromHeaders(r.Header)
	if err := validateMetadata(md); err != nil {
		writeError(w, http.StatusBadRequest, "invalid metadata: "+err.Error())
		return
	}
	var written []uploadedEntry
	write := func(target string, src io.Reader) bool {
		path := a.resolvePath(u, target)
		for _, e := range written {
			if e.Path == path {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("two files of one upload go to '%s'", path))
				return false
			}
		}
		stored, err := writeFile(u, path, src, md)
		if err != nil {
			writeError(w, httpStatusFor(err), fmt.Sprintf("cannot write '%s': %s", path, errText(err)))
			return false
		}
		written = append(written, uploadedEntry{Path: path, Name: filepath.Base(path), Type: "file", Metadata: stored})
		return true
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if strings.HasPrefix(mt, "multipart/") {
		if params["boundary"] == "" {
			writeError(w, http.StatusBadRequest, "multipart body without boundary")
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid multipart body: "+err.Error())
				return
			}
			if part.FormName() != "file" {
				continue
			}
			// The `path` query names the destination of a single-file upload; further parts go to their filenames.
			target := partPath(part)
			if reqPath != "" && len(written) == 0 {
				target = reqPath
			}
			if target == "" {
				writeError(w, http.StatusBadRequest, "a file part needs a filename or the 'path' query parameter")
				return
			}
			if !write(target, part) {
				return
			}
		}
		if len(written) == 0 {
			writeError(w, http.StatusBadRequest, "the multipart body has no 'file' part")
			return
		}
	} else {
		if reqPath == "" {
			writeError(w, http.StatusBadRequest, "query parameter 'path' is required for a raw upload")
			return
		}
		if !write(reqPath, body) {
			return
		}
	}
	writeJSON(w, written)
}
