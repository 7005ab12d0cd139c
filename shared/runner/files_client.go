package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// transferClient is the client of presigned transfers: the transport of hc
// (proxies, custom CAs) without hc's overall timeout, which would cut large
// objects; a server that does not answer still fails after a minute.
func transferClient(hc *http.Client) *http.Client {
	var rt http.RoundTripper = hc.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = time.Minute
		rt = t
	}
	return &http.Client{Transport: rt}
}

// RestoreCache asks for the caches matching keys (POST /task/caches/restore).
func (c *Client) RestoreCache(ctx context.Context, r CacheRestoreRequest) (CacheRestore, error) {
	var out CacheRestore
	err := c.postJSON(ctx, "/task/caches/restore", r, &out)
	return out, err
}

// SaveCache reserves a cache key (POST /task/caches/save).
func (c *Client) SaveCache(ctx context.Context, r CacheSaveRequest) (CacheSave, error) {
	var out CacheSave
	err := c.postJSON(ctx, "/task/caches/save", r, &out)
	return out, err
}

// CommitCache publishes an uploaded cache (POST /task/caches/commit); it
// returns an error matching ErrConflict when another task was first.
func (c *Client) CommitCache(ctx context.Context, r CacheCommit) error {
	return c.postJSON(ctx, "/task/caches/commit", r, nil)
}

// PersistWorkspace asks where to upload a workspace layer.
func (c *Client) PersistWorkspace(ctx context.Context, r WorkspacePersist) (Upload, error) {
	var out Upload
	err := c.postJSON(ctx, "/task/workspace/persist", r, &out)
	return out, err
}

// CommitWorkspace publishes an uploaded workspace layer.
func (c *Client) CommitWorkspace(ctx context.Context, r WorkspaceCommit) error {
	return c.postJSON(ctx, "/task/workspace/commit", r, nil)
}

// Workspace lists the layers to attach (GET /task/workspace).
func (c *Client) Workspace(ctx context.Context) (WorkspaceLayers, error) {
	var out WorkspaceLayers
	err := c.do(ctx, http.MethodGet, "/task/workspace", "", nil, &out)
	return out, err
}

// StoreArtifacts asks where to upload artifacts (POST /task/artifacts).
func (c *Client) StoreArtifacts(ctx context.Context, r ArtifactsRequest) (ArtifactsUpload, error) {
	var out ArtifactsUpload
	err := c.postJSON(ctx, "/task/artifacts", r, &out)
	return out, err
}

// StoreTests sends batch seq of step n's test results.
func (c *Client) StoreTests(ctx context.Context, step, seq int, b TestBatch) error {
	return c.postJSON(ctx, "/task/steps/"+strconv.Itoa(step)+"/tests?seq="+strconv.Itoa(seq), b, nil)
}

// Timings fetches the timings of the job's last run (GET /task/timings).
func (c *Client) Timings(ctx context.Context) (Timings, error) {
	var out Timings
	err := c.do(ctx, http.MethodGet, "/task/timings", "", nil, &out)
	return out, err
}

// PutObject uploads size bytes of body to a presigned Upload, retrying
// network errors and 5xx answers like the API calls. The task token is not
// sent: the URL carries its own authorization.
func (c *Client) PutObject(ctx context.Context, u Upload, body io.ReaderAt, size int64) error {
	return c.retry(ctx, "PUT", "(presigned upload)", func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.URL, io.NewSectionReader(body, 0, size))
		if err != nil {
			return fmt.Errorf("runner: build upload: %w", err)
		}
		req.ContentLength = size
		if u.ContentType != "" {
			req.Header.Set("Content-Type", u.ContentType)
		}
		req.Header.Set("User-Agent", c.userAgent)
		resp, err := c.transfer.Do(req)
		if err != nil {
			return &netError{fmt.Errorf("runner: upload: %w", redactURL(err))}
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return &APIError{Method: http.MethodPut, Path: "(presigned upload)", StatusCode: resp.StatusCode, Message: apiMessage(data)}
		}
		return nil
	})
}

// GetObject downloads a presigned URL into w, retrying (from the start)
// network errors and 5xx answers; it returns the bytes written by the
// successful attempt. reset is called before every attempt after the first,
// to empty w. A failure to write to w is returned at once.
func (c *Client) GetObject(ctx context.Context, url string, w io.Writer, reset func() error) (int64, error) {
	var n int64
	first := true
	err := c.retry(ctx, "GET", "(presigned download)", func() error {
		if !first {
			if err := reset(); err != nil {
				return fmt.Errorf("runner: restart download: %w", err)
			}
		}
		first = false
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("runner: build download: %w", err)
		}
		req.Header.Set("User-Agent", c.userAgent)
		resp, err := c.transfer.Do(req)
		if err != nil {
			return &netError{fmt.Errorf("runner: download: %w", redactURL(err))}
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			return &APIError{Method: http.MethodGet, Path: "(presigned download)", StatusCode: resp.StatusCode, Message: apiMessage(data)}
		}
		n, err = io.Copy(destWriter{w}, resp.Body)
		if err != nil {
			var de *destError
			if errors.As(err, &de) {
				return de.err
			}
			return &netError{fmt.Errorf("runner: download: %w", redactURL(err))}
		}
		return nil
	})
	return n, err
}

// destError marks a failure of a download's destination (a full disk
// stays full: not retried).
type destError struct{ err error }

func (e *destError) Error() string { return e.err.Error() }

type destWriter struct{ w io.Writer }

func (d destWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		return n, &destError{fmt.Errorf("runner: write download: %w", err)}
	}
	return n, nil
}

// redactURL drops the query (a presigned URL's signature) from the URL an
// HTTP client error names, so errors can be shown in step output and logs.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = "(signature redacted)"
			c := *ue
			c.URL = u.String()
			return &c
		}
	}
	return err
}
