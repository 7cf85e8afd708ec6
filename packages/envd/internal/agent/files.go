package agent

import (
	"compress/gzip"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Signature is E2B's signed-URL check: "v1_" + unpadded base64(sha256("<path>:<op>:<user>:<token>[:<expiration>]")).
func Signature(path, op, user, token string, expiration int64) string {
	raw := fmt.Sprintf("%s:%s:%s:%s", path, op, user, token)
	if expiration > 0 {
		raw += ":" + strconv.FormatInt(expiration, 10)
	}
	sum := sha256.Sum256([]byte(raw))
	return "v1_" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "=")
}

// authorizeFiles accepts the access token, or a valid unexpired signature for (path, op, user).
func (a *Agent) authorizeFiles(w http.ResponseWriter, r *http.Request, path, op, username string) bool {
	token := a.token()
	if token == "" || (r.Header.Get("X-Access-Token") != "" && a.tokenOK(r)) {
		return true
	}
	q := r.URL.Query()
	sig := q.Get("signature")
	if sig == "" {
		writeError(w, http.StatusUnauthorized, "missing X-Access-Token or signature")
		return false
	}
	var exp int64
	if v := q.Get("signature_expiration"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "signature_expiration must be a unix time in seconds")
			return false
		}
		if time.Now().Unix() > n {
			writeError(w, http.StatusUnauthorized, "signature expired")
			return false
		}
		exp = n
	}
	if subtle.ConstantTimeCompare([]byte(sig), []byte(Signature(path, op, username, token, exp))) != 1 {
		writeError(w, http.StatusUnauthorized, "invalid signature")
		return false
	}
	return true
}

func (a *Agent) filesUser(w http.ResponseWriter, r *http.Request) (*sandboxUser, string, bool) {
	name := r.URL.Query().Get("username")
	u, err := a.resolveUser(name)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("user '%s' does not exist in the sandbox", name))
		return nil, "", false
	}
	return u, name, true
}

func httpStatusFor(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return http.StatusUnauthorized
	case errors.Is(err, syscall.ENOSPC):
		return http.StatusInsufficientStorage
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTDIR):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (a *Agent) handleDownload(w http.ResponseWriter, r *http.Request) {
	u, name, ok := a.filesUser(w, r)
	if !ok {
		return
	}
	reqPath := r.URL.Query().Get("path")
	if reqPath == "" {
		writeError(w, http.StatusBadRequest, "query parameter 'path' is required")
		return
	}
	if !a.authorizeFiles(w, r, reqPath, "read", name) {
		return
	}
	path := resolvePath(u, reqPath)
	var f *os.File
	err := asUser(u, func() (err error) {
		f, err = os.Open(path)
		return
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
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(path)}))
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		_, _ = io.Copy(gz, f)
		_ = gz.Close()
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	_, _ = io.Copy(w, f)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && !strings.Contains(params, "q=0") {
			return true
		}
	}
	return false
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

type uploadedEntry struct {
	Path string `json:"path"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// writeFile writes r to path as the user, creating parent directories; the file is replaced atomically.
func writeFile(u *sandboxUser, path string, r io.Reader) error {
	return asUser(u, func() error {
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return &fs.PathError{Op: "write", Path: path, Err: syscall.EISDIR}
		}
		mode := fs.FileMode(0o644)
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
		tmp, err := os.CreateTemp(dir, ".tb-upload-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := io.Copy(tmp, r); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Chmod(mode); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), path)
	})
}

func (a *Agent) handleUpload(w http.ResponseWriter, r *http.Request) {
	u, name, ok := a.filesUser(w, r)
	if !ok {
		return
	}
	reqPath := r.URL.Query().Get("path")
	if !a.authorizeFiles(w, r, reqPath, "write", name) {
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid gzip body")
			return
		}
		body = gz
	}
	var written []uploadedEntry
	fail := func(err error, path string) {
		writeError(w, httpStatusFor(err), fmt.Sprintf("cannot write '%s': %s", path, errText(err)))
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		mr, err := (&http.Request{Header: http.Header{"Content-Type": {r.Header.Get("Content-Type")}}, Body: io.NopCloser(body)}).MultipartReader()
		if err != nil || params["boundary"] == "" {
			writeError(w, http.StatusBadRequest, "invalid multipart body")
			return
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid multipart body: "+err.Error())
				return
			}
			if part.FormName() != "file" && part.FileName() == "" {
				continue
			}
			target := reqPath
			if target == "" || (len(written) > 0) {
				target = part.FileName()
			}
			if target == "" {
				writeError(w, http.StatusBadRequest, "a file part needs a filename or the 'path' query parameter")
				return
			}
			path := resolvePath(u, target)
			if err := writeFile(u, path, part); err != nil {
				fail(err, path)
				return
			}
			written = append(written, uploadedEntry{Path: path, Name: filepath.Base(path), Type: "file"})
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
		path := resolvePath(u, reqPath)
		if err := writeFile(u, path, body); err != nil {
			fail(err, path)
			return
		}
		written = append(written, uploadedEntry{Path: path, Name: filepath.Base(path), Type: "file"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(written)
}

// handleMetrics reports what the sandbox sees of itself (the control plane's cgroup numbers are authoritative).
func (a *Agent) handleMetrics(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"ts": time.Now().Unix(), "cpu_count": cpuCount()}
	if total, avail, ok := meminfo(); ok {
		out["mem_total"] = total
		out["mem_used"] = total - avail
	}
	var st syscall.Statfs_t
	if syscall.Statfs("/", &st) == nil {
		out["disk_total"] = st.Blocks * uint64(st.Bsize)
		out["disk_used"] = (st.Blocks - st.Bfree) * uint64(st.Bsize)
	}
	out["cpu_used_pct"] = cpuPercent()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
