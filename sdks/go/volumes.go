package tensorbox

// Volumes: a team's named persistent file systems (E2B's Volume), mounted read-write by sandboxes
// (CreateOptions.VolumeMounts, several sandboxes at once) and readable and writable without one through the volume
// content API (ReadFile, WriteFile, List, ... with the volume's own token). REST shapes are spec/openapi.yaml's
// (internal/api); the content API is spec/volume-content.yaml's.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// VolumeInfo is a volume as ListVolumes shows it.
type VolumeInfo = api.Volume

// VolumeEntry is a file, directory or symbolic link in a volume (links have Target and are never followed).
type VolumeEntry struct {
	Name   string    `json:"name"`
	Path   string    `json:"path"`
	Type   string    `json:"type"`
	Size   int64     `json:"size"`
	Mode   uint32    `json:"mode"`
	UID    uint32    `json:"uid"`
	GID    uint32    `json:"gid"`
	Mtime  time.Time `json:"mtime"`
	Target string    `json:"target,omitempty"`
}

// Volume is a volume with its content API token.
type Volume struct {
	VolumeID string
	Name     string
	SizeMB   int
	// Token is the content API's bearer token for this volume.
	Token string
	conn  *conn
}

func volumePath(idOrName string) string { return "/volumes/" + url.PathEscape(idOrName) }

func newVolume(v api.VolumeAndToken, c *conn) *Volume {
	size := 0
	if v.SizeMB != nil {
		size = *v.SizeMB
	}
	return &Volume{VolumeID: v.VolumeID, Name: v.Name, SizeMB: size, Token: v.Token, conn: c}
}

// CreateVolume makes a volume of the caller's team; sizeMB 0 means the server's default (1024).
func CreateVolume(ctx context.Context, name string, sizeMB int, opts *Options) (*Volume, error) {
	c := resolveOptions(opts)
	body := api.NewVolume{Name: name}
	if sizeMB > 0 {
		body.SizeMB = &sizeMB
	}
	var out api.VolumeAndToken
	_, _, err := c.do(ctx, restCall{method: http.MethodPost, path: "/volumes", body: body, out: &out,
		what: "create volume " + name})
	if err != nil {
		return nil, err
	}
	return newVolume(out, c), nil
}

// GetVolume returns a volume of the caller's team by ID or name, with a fresh content token.
func GetVolume(ctx context.Context, idOrName string, opts *Options) (*Volume, error) {
	c := resolveOptions(opts)
	var out api.VolumeAndToken
	_, _, err := c.do(ctx, restCall{method: http.MethodGet, path: volumePath(idOrName), out: &out,
		what: "get volume " + idOrName})
	if err != nil {
		return nil, err
	}
	return newVolume(out, c), nil
}

// ListVolumes lists the caller's team's volumes, oldest first.
func ListVolumes(ctx context.Context, opts *Options) ([]VolumeInfo, error) {
	var out []VolumeInfo
	_, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodGet, path: "/volumes", out: &out,
		what: "list volumes"})
	return out, err
}

// DeleteVolume deletes a volume and its files; a Conflict error while a running or paused sandbox mounts it.
func DeleteVolume(ctx context.Context, idOrName string, opts *Options) error {
	_, _, err := resolveOptions(opts).do(ctx, restCall{method: http.MethodDelete, path: volumePath(idOrName),
		what: "delete volume " + idOrName})
	return err
}

// List returns a directory's entries, depth levels deep (0: 1).
func (v *Volume) List(ctx context.Context, path string, depth int) ([]VolumeEntry, error) {
	q := url.Values{"path": {path}}
	if depth > 0 {
		q.Set("depth", strconv.Itoa(depth))
	}
	var out []VolumeEntry
	return out, v.content(ctx, http.MethodGet, "dir", q, nil, &out, "list "+path)
}

// MakeDir makes a directory (force: its missing parents too).
func (v *Volume) MakeDir(ctx context.Context, path string, force bool) (*VolumeEntry, error) {
	var out VolumeEntry
	q := url.Values{"path": {path}, "force": {strconv.FormatBool(force)}}
	return &out, v.content(ctx, http.MethodPost, "dir", q, nil, &out, "make directory "+path)
}

// GetInfo returns a path's entry (a symbolic link is reported, not followed).
func (v *Volume) GetInfo(ctx context.Context, path string) (*VolumeEntry, error) {
	var out VolumeEntry
	return &out, v.content(ctx, http.MethodGet, "path", url.Values{"path": {path}}, nil, &out, "stat "+path)
}

// ReadFile returns a file's contents.
func (v *Volume) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var out []byte
	return out, v.content(ctx, http.MethodGet, "file", url.Values{"path": {path}}, nil, &out, "read "+path)
}

// WriteFile writes a file whole (made or replaced; a NotEnoughSpace error when the volume is full).
func (v *Volume) WriteFile(ctx context.Context, path string, data []byte) (*VolumeEntry, error) {
	var out VolumeEntry
	return &out, v.content(ctx, http.MethodPut, "file", url.Values{"path": {path}}, data, &out, "write "+path)
}

// Remove removes a file or a directory with its contents (a symbolic link: the link only).
func (v *Volume) Remove(ctx context.Context, path string) error {
	return v.content(ctx, http.MethodDelete, "path", url.Values{"path": {path}}, nil, nil, "remove "+path)
}

// content calls the volume content API with the volume's token; out is JSON, or *[]byte for the raw body.
func (v *Volume) content(ctx context.Context, method, what string, q url.Values, body []byte, out any,
	op string) error {
	c := v.conn
	if c.requestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.requestTimeout)
		defer cancel()
	}
	op = "volume " + v.Name + ": " + op
	u := c.apiURL + "/volumecontent/" + url.PathEscape(v.VolumeID) + "/" + what + "?" + q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return newError(KindInvalidArgument, "%s: %v", op, err)
	}
	for k, val := range c.headers {
		req.Header.Set(k, val)
	}
	req.Header.Set("Authorization", "Bearer "+v.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fromTransport(err, op)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return fromHTTP(res, op)
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o, err = io.ReadAll(res.Body)
	default:
		err = json.NewDecoder(res.Body).Decode(out)
	}
	if err != nil {
		return &SandboxError{Kind: KindInternal, Message: op + ": bad response: " + err.Error(), Status: res.StatusCode,
			Cause: err}
	}
	return nil
}
