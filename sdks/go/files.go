package tensorbox

// Files: the sandbox's filesystem. Contents travel over the agent's HTTP /files route (streamed, no size limit);
// metadata operations (files_meta.go) and watches (files_watch.go) over its Connect filesystem service.

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Files reads, writes and inspects one sandbox's files; use it as sandbox.Files.
type Files struct{ t *envdTarget }

// FilesystemOptions applies to every Files call. A nil *FilesystemOptions means all defaults.
type FilesystemOptions struct {
	// User resolves relative paths against its home and owns the files it creates (default "user").
	User string
	// RequestTimeout bounds the call (default: only ctx). For ReadStream it bounds reading the whole body.
	RequestTimeout time.Duration
}

func (o *FilesystemOptions) user() string {
	if o == nil {
		return DefaultUser
	}
	return orDefaultUser(o.User)
}

// withTimeout applies RequestTimeout to ctx.
func (o *FilesystemOptions) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if o == nil || o.RequestTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.RequestTimeout)
}

// WriteEntry is one file of WriteFiles.
type WriteEntry struct {
	Path string
	Data []byte
}

func (f *Files) filesURL(path, user string) string {
	q := url.Values{}
	if path != "" {
		q.Set("path", path)
	}
	q.Set("username", user)
	return f.t.conn.apiURL + "/files?" + q.Encode()
}

// send performs one /files request and returns the response when it succeeded.
func (f *Files) send(
	ctx context.Context,
	method, u, contentType string,
	body io.Reader,
	what string,
) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, newError(KindInvalidArgument, "%s: %v", what, err)
	}
	f.t.setHeaders(req.Header, "")
	// No gzip of file bytes (Go's transport would ask for it): it costs more CPU than it saves on a LAN.
	req.Header.Set("Accept-Encoding", "identity")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := f.t.conn.http.Do(req)
	if err != nil {
		return nil, fromTransport(err, what)
	}
	if res.StatusCode >= 300 {
		defer res.Body.Close()
		return nil, fromHTTP(res, what)
	}
	return res, nil
}

// Read returns a file's content as text.
//
//	text, err := sbx.Files.Read(ctx, "/home/user/hello.txt", nil)
func (f *Files) Read(ctx context.Context, path string, opts *FilesystemOptions) (string, error) {
	b, err := f.ReadBytes(ctx, path, opts)
	return string(b), err
}

// ReadBytes returns a file's content.
func (f *Files) ReadBytes(ctx context.Context, path string, opts *FilesystemOptions) ([]byte, error) {
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	res, err := f.send(ctx, http.MethodGet, f.filesURL(path, opts.user()), "", nil, "read "+path)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fromTransport(err, "read "+path)
	}
	return b, nil
}

// ReadStream returns a file's content as a stream, for large files; close it when done.
func (f *Files) ReadStream(ctx context.Context, path string, opts *FilesystemOptions) (io.ReadCloser, error) {
	ctx, cancel := opts.withTimeout(ctx)
	res, err := f.send(ctx, http.MethodGet, f.filesURL(path, opts.user()), "", nil, "read "+path)
	if err != nil {
		cancel()
		return nil, err
	}
	return &cancelOnClose{ReadCloser: res.Body, cancel: cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// WriteString writes text to a file (creating parent directories, replacing the file) and returns its info.
//
//	info, err := sbx.Files.WriteString(ctx, "/tmp/hello.txt", "Hello World!", nil)
func (f *Files) WriteString(ctx context.Context, path, data string, opts *FilesystemOptions) (*EntryInfo, error) {
	return f.WriteStream(ctx, path, strings.NewReader(data), opts)
}

// Write writes bytes to a file (creating parent directories, replacing the file) and returns its info.
func (f *Files) Write(ctx context.Context, path string, data []byte, opts *FilesystemOptions) (*EntryInfo, error) {
	return f.WriteStream(ctx, path, bytes.NewReader(data), opts)
}

// WriteStream writes everything r yields to a file without buffering it, and returns the file's info.
func (f *Files) WriteStream(
	ctx context.Context,
	path string,
	r io.Reader,
	opts *FilesystemOptions,
) (*EntryInfo, error) {
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	res, err := f.send(ctx, http.MethodPost, f.filesURL(path, opts.user()), "application/octet-stream", r, "write "+path)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	// The upload answers with name and type only; a stat gives the full entry.
	return f.GetInfo(ctx, path, opts)
}

// WriteFiles writes several files in one request and returns their infos in the same order.
func (f *Files) WriteFiles(ctx context.Context, files []WriteEntry, opts *FilesystemOptions) ([]EntryInfo, error) {
	if len(files) == 0 {
		return []EntryInfo{}, nil
	}
	ctx, cancel := opts.withTimeout(ctx)
	defer cancel()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, e := range files {
		// The agent takes each part's file name as the destination path.
		w, err := mw.CreateFormFile("file", e.Path)
		if err != nil {
			return nil, newError(KindInvalidArgument, "write files: %v", err)
		}
		w.Write(e.Data)
	}
	if err := mw.Close(); err != nil {
		return nil, newError(KindInvalidArgument, "write files: %v", err)
	}
	res, err := f.send(ctx, http.MethodPost, f.filesURL("", opts.user()), mw.FormDataContentType(), &body, "write files")
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	infos := make([]EntryInfo, len(files))
	for i, e := range files {
		info, err := f.GetInfo(ctx, e.Path, opts)
		if err != nil {
			return nil, err
		}
		infos[i] = *info
	}
	return infos, nil
}
