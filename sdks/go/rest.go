package tensorbox

// The thin control-plane client: JSON in, JSON out, X-API-Key, one error mapping. Request and response shapes come
// from internal/api (generated from spec/openapi.yaml); the calls convert them into the package's Go-style types.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"
)

// restCall describes one control-plane request.
type restCall struct {
	method string
	path   string
	query  url.Values
	body   any // marshalled as JSON when non-nil
	out    any // unmarshalled from JSON when non-nil and the response has a body
	what   string
}

// do performs the call and returns the response headers and status (the body is consumed).
func (c *conn) do(ctx context.Context, rc restCall) (http.Header, int, error) {
	if c.requestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.requestTimeout)
		defer cancel()
	}
	u := c.apiURL + rc.path
	if len(rc.query) > 0 {
		u += "?" + rc.query.Encode()
	}
	var body io.Reader
	if rc.body != nil {
		b, err := json.Marshal(rc.body)
		if err != nil {
			return nil, 0, newError(KindInvalidArgument, "%s: %v", rc.what, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rc.method, u, body)
	if err != nil {
		return nil, 0, newError(KindInvalidArgument, "%s: %v", rc.what, err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	if c.apiKey != "" {
		req.Header.Set("X-API-Key", c.apiKey)
	}
	if rc.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fromTransport(err, rc.what)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return res.Header, res.StatusCode, fromHTTP(res, rc.what)
	}
	if rc.out != nil && res.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(res.Body).Decode(rc.out); err != nil && err != io.EOF {
			return res.Header, res.StatusCode, &SandboxError{
				Kind:    KindInternal,
				Message: rc.what + ": bad response: " + err.Error(),
				Status:  res.StatusCode,
				Cause:   err,
			}
		}
	}
	return res.Header, res.StatusCode, nil
}

// seconds rounds a duration up to whole seconds, the unit of the REST API's timeouts.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}
