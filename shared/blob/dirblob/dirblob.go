// Package dirblob is the embedded driver of the blob port: objects are files
// under a directory, and presigned URLs are HMAC-signed links that the API
// serves with Store.Handler.
//
// Layout under Config.Root:
//
//	objects/   one file per object, at a path derived from its key (layout.go)
//	tmp/       uploads in progress
//
// An object file starts with one line of JSON metadata (content type, time of
// the put), then the content. Put writes a temporary file, syncs it and
// renames it over the old object, so content and content type change
// together, atomically: a concurrent Get has the old file open or the new
// one, never a mix. Delete removes the file and the directories it leaves
// empty.
package dirblob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/internal/blobrules"
)

var _ blob.Store = (*Store)(nil)

// MinSecretBytes is the shortest Config.Secret New accepts.
const MinSecretBytes = 32

// maxHeader bounds an object file's metadata line.
const maxHeader = 8 * 1024

// staleTemp is how old a temporary file must be for New to remove it.
const staleTemp = time.Hour

// Config configures a Store.
type Config struct {
	// Root is the directory that holds the store; New creates it if needed.
	Root string
	// BaseURL is where the API serves Handler, e.g.
	// "http://127.0.0.1:8080/blob": PresignGet returns BaseURL + "/" + key
	// + "?expires=…&sig=…", and Handler expects request paths under
	// BaseURL's path.
	BaseURL string
	// Secret is the HMAC-SHA256 key that signs URLs, at least
	// MinSecretBytes long. Changing it revokes every URL handed out.
	Secret []byte
	// Now is the clock for LastModified and URL expiry; nil means time.Now.
	Now func() time.Time
}

// Store is a blob store in a directory. It is safe for concurrent use, also
// by several Stores on the same Root.
type Store struct {
	objects  string
	tmp      string
	baseURL  string // without a trailing "/"
	basePath string // BaseURL's escaped path, without a trailing "/"
	secret   []byte
	now      func() time.Time
}

// New returns a Store rooted at cfg.Root.
func New(cfg Config) (*Store, error) {
	if cfg.Root == "" {
		return nil, errors.New("dirblob: empty Root")
	}
	if len(cfg.Secret) < MinSecretBytes {
		return nil, fmt.Errorf("dirblob: Secret is %d bytes, fewer than %d", len(cfg.Secret), MinSecretBytes)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("dirblob: BaseURL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dirblob: BaseURL %q is not an absolute http(s) URL without query", cfg.BaseURL)
	}
	s := &Store{
		objects:  filepath.Join(cfg.Root, "objects"),
		tmp:      filepath.Join(cfg.Root, "tmp"),
		baseURL:  strings.TrimSuffix(cfg.BaseURL, "/"),
		basePath: strings.TrimSuffix(u.EscapedPath(), "/"),
		secret:   bytes.Clone(cfg.Secret),
		now:      cfg.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, dir := range []string{s.objects, s.tmp} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("dirblob: %w", err)
		}
	}
	s.removeStaleTemps()
	return s, nil
}

// removeStaleTemps removes uploads that a crash left behind. Recent ones may
// belong to another Store on the same Root and are left alone.
func (s *Store) removeStaleTemps() {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return // best effort: leftovers cost disk, not correctness
	}
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && time.Since(info.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(s.tmp, e.Name()))
		}
	}
}

// header is an object file's first line.
type header struct {
	ContentType string `json:"type"`
	Modified    int64  `json:"modified"` // unix nanoseconds
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) (err error) {
	if err := blobrules.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	ct, err := blobrules.ContentType(opts.ContentType)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	hdr, err := json.Marshal(header{ContentType: ct, Modified: s.now().UnixNano()})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}

	tmp, err := os.CreateTemp(s.tmp, "put-*.tmp")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = tmp.Close() // already failing; the first error is the one to report
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(hdr, '\n')); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}

	target := filepath.Join(s.objects, objectPath(key))
	for attempt := 1; ; attempt++ {
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		err := os.Rename(tmp.Name(), target)
		if err == nil {
			renamed = true
			return nil
		}
		// A concurrent Delete may have pruned the directory between MkdirAll
		// and Rename: make it again.
		if !errors.Is(err, fs.ErrNotExist) || attempt == 5 {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// object is an open object file.
type object struct {
	f       *os.File
	info    blob.Info
	dataOff int64 // where the content starts
}

// open opens key's file and reads its metadata; the caller closes o.f.
func (s *Store) open(key string) (*object, error) {
	f, err := os.Open(filepath.Join(s.objects, objectPath(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blob.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	o, err := readObject(f, key)
	if err != nil {
		_ = f.Close() // already failing
		return nil, err
	}
	return o, nil
}

func readObject(f *os.File, key string) (*object, error) {
	buf := make([]byte, maxHeader)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line, _, ok := bytes.Cut(buf[:n], []byte{'\n'})
	if !ok {
		return nil, fmt.Errorf("object file %s has no metadata line", f.Name())
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("object file %s: metadata: %w", f.Name(), err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := int64(len(line) + 1)
	return &object{
		f:       f,
		dataOff: off,
		info: blob.Info{
			Key:          key,
			Size:         st.Size() - off,
			ContentType:  h.ContentType,
			LastModified: time.Unix(0, h.Modified),
		},
	}, nil
}

// objectReader reads part of an object file and closes it.
type objectReader struct {
	*io.SectionReader
	f *os.File
}

func (r objectReader) Close() error { return r.f.Close() }

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string, rng *blob.Range) (io.ReadCloser, blob.Info, error) {
	if err := blobrules.CheckKey(key); err != nil {
		return nil, blob.Info{}, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, blob.Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	o, err := s.open(key)
	if err != nil {
		return nil, blob.Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	off, n := int64(0), o.info.Size
	if rng != nil {
		if rng.Offset < 0 || rng.Offset >= o.info.Size {
			_ = o.f.Close() // nothing was read
			return nil, blob.Info{}, fmt.Errorf("get %s: bytes from %d of %d: %w", key, rng.Offset, o.info.Size, blob.ErrInvalidRange)
		}
		off = rng.Offset
		n = o.info.Size - off
		if rng.Length >= 0 && rng.Length < n {
			n = rng.Length
		}
	}
	return objectReader{io.NewSectionReader(o.f, o.dataOff+off, n), o.f}, o.info, nil
}

// Head implements blob.Store.
func (s *Store) Head(ctx context.Context, key string) (blob.Info, error) {
	if err := blobrules.CheckKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("head: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, fmt.Errorf("head %s: %w", key, err)
	}
	o, err := s.open(key)
	if err != nil {
		return blob.Info{}, fmt.Errorf("head %s: %w", key, err)
	}
	if err := o.f.Close(); err != nil {
		return blob.Info{}, fmt.Errorf("head %s: %w", key, err)
	}
	return o.info, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blobrules.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	target := filepath.Join(s.objects, objectPath(key))
	err := os.Remove(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	// Remove the directories this leaves empty; Remove fails on the first
	// one that is not, which ends the walk.
	for dir := filepath.Dir(target); dir != s.objects && strings.HasPrefix(dir, s.objects); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}
