package tensorbox

// Uploading the files of COPY steps and Dockerfile contexts: a tar (plain or gzip), content-addressed by its sha256.
// GET /templates/{id}/files/{hash} says whether the server has it and where to PUT it (a signed link); the PUT is
// skipped when it is there already.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/tensor-box/tensor-box/sdks/go/internal/api"
)

// UploadTemplateFiles uploads a tar for a template's COPY steps (or a Dockerfile's context) unless the server already
// has it, and returns its hash (sha256, hex) to pass as FilesHash; uploaded is false when it was already there.
//
//	hash, _, err := tensorbox.UploadTemplateFiles(ctx, created.TemplateID, tarBytes, nil)
func UploadTemplateFiles(
	ctx context.Context,
	templateID string,
	tar []byte,
	opts *Options,
) (hash string, uploaded bool, err error) {
	sum := sha256.Sum256(tar)
	hash = hex.EncodeToString(sum[:])
	c := resolveOptions(opts)
	what := "upload files of template " + templateID
	var link api.TemplateBuildFileUpload
	call := restCall{method: http.MethodGet, path: templatePath(templateID) + "/files/" + hash, out: &link, what: what}
	if _, _, err := c.do(ctx, call); err != nil {
		return "", false, err
	}
	if link.Present {
		return hash, false, nil
	}
	u := c.apiURL + templatePath(templateID) + "/files/" + hash
	if link.Url != nil && *link.Url != "" {
		u = *link.Url
	}
	if c.requestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.requestTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(tar))
	if err != nil {
		return "", false, newError(KindInvalidArgument, "%s: %v", what, err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-API-Key", c.apiKey)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := c.http.Do(req)
	if err != nil {
		return "", false, fromTransport(err, what)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return "", false, fromHTTP(res, what)
	}
	return hash, true, nil
}
