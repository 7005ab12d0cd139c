package taskfiles

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/cachekey"
	"github.com/orbit-ci/orbit/shared/runner"
)

// archiveType is the content type of caches and workspace layers.
const archiveType = "application/gzip"

// cacheManifest is a saved cache; its presence makes the cache visible.
type cacheManifest struct {
	Key       string    `json:"key"`
	Object    string    `json:"object"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
	JobNumber int64     `json:"job_number"`
	TaskID    string    `json:"task_id"`
}

const manifestName = "/manifest.json"

func cachesPrefix(slug string) string { return "projects/" + slug + "/caches/" }

func cacheDir(slug, key string) string { return cachesPrefix(slug) + cachekey.Escape(key) }

func checkKey(key string) error {
	if err := cachekey.Check(key); err != nil {
		return fmt.Errorf("%w: %v", runner.ErrBadRequest, err)
	}
	return nil
}

// matchesPerKey is how many caches each restore key may offer, newest
// first, so that the agent can fall back past a corrupt one.
const matchesPerKey = 3

// RestoreCache implements runner.Files: for each key in order, the newest
// caches whose key starts with it (each cache listed once).
func (s *Service) RestoreCache(ctx context.Context, taskID string, r runner.CacheRestoreRequest) (runner.CacheRestore, error) {
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return runner.CacheRestore{}, err
	}
	if len(r.Keys) == 0 || len(r.Keys) > 50 {
		return runner.CacheRestore{}, badRequest("restore_cache needs 1 to 50 keys, got %d", len(r.Keys))
	}
	out := runner.CacheRestore{Matches: []runner.CacheEntry{}}
	seen := map[string]bool{}
	for _, k := range r.Keys {
		if err := checkKey(k); err != nil {
			return out, err
		}
		ms, err := s.newestCaches(ctx, tc.ProjectSlug, k, matchesPerKey)
		if err != nil {
			return out, err
		}
		for _, m := range ms {
			if seen[m.Key] {
				continue
			}
			seen[m.Key] = true
			u, err := s.presign(ctx, m.Object)
			if err != nil {
				return out, err
			}
			out.Matches = append(out.Matches, runner.CacheEntry{Key: m.Key, URL: u, Size: m.Size, SHA256: m.SHA256, CreatedAt: m.CreatedAt})
		}
	}
	return out, nil
}

// newestCaches finds the n newest caches whose key has the prefix. The
// listing orders candidates by LastModified (to the second on S3); the
// manifests of a few more than n are read to order them exactly.
func (s *Service) newestCaches(ctx context.Context, slug, prefix string, n int) ([]cacheManifest, error) {
	objs, err := s.list(ctx, cacheDir(slug, prefix))
	if err != nil {
		return nil, err
	}
	var cands []blob.Info
	for _, o := range objs {
		if strings.HasSuffix(o.Key, manifestName) {
			cands = append(cands, o)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].LastModified.After(cands[j].LastModified) })
	var out []cacheManifest
	for i, c := range cands {
		if i >= n && c.LastModified.Before(cands[n-1].LastModified.Truncate(time.Second)) {
			break
		}
		var m cacheManifest
		if err := s.getJSON(ctx, c.Key, &m); errors.Is(err, blob.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out[:min(n, len(out))], nil
}

// SaveCache implements runner.Files: keys are immutable, so an existing key
// answers Exists.
func (s *Service) SaveCache(ctx context.Context, taskID string, r runner.CacheSaveRequest) (runner.CacheSave, error) {
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return runner.CacheSave{}, err
	}
	if err := checkKey(r.Key); err != nil {
		return runner.CacheSave{}, err
	}
	dir := cacheDir(tc.ProjectSlug, r.Key)
	if len(dir) > 900 {
		return runner.CacheSave{}, badRequest("cache key %q is too long once encoded for storage; shorten it", r.Key)
	}
	exists, err := s.exists(ctx, dir+manifestName)
	if err != nil || exists {
		return runner.CacheSave{Exists: exists}, err
	}
	up, err := s.uploadFor(ctx, dir+"/"+objectName(taskID, r.Step)+".tar.gz", archiveType)
	if err != nil {
		return runner.CacheSave{}, err
	}
	return runner.CacheSave{Upload: &up}, nil
}

// CommitCache implements runner.Files: it publishes the uploaded archive,
// unless another task published the key first (runner.ErrConflict).
func (s *Service) CommitCache(ctx context.Context, taskID string, r runner.CacheCommit) error {
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return err
	}
	if err := checkKey(r.Key); err != nil {
		return err
	}
	if err := checkSHA(r.SHA256); err != nil {
		return err
	}
	dir := cacheDir(tc.ProjectSlug, r.Key)
	object := dir + "/" + objectName(taskID, r.Step) + ".tar.gz"
	var m cacheManifest
	switch err := s.getJSON(ctx, dir+manifestName, &m); {
	case err == nil && m.Object == object:
		return nil // our own commit, retried
	case err == nil:
		return fmt.Errorf("%w: cache key %q was saved by another job meanwhile", runner.ErrConflict, r.Key)
	case !errors.Is(err, blob.ErrNotFound):
		return err
	}
	info, err := s.cfg.Blobs.Head(ctx, object)
	if errors.Is(err, blob.ErrNotFound) {
		return badRequest("the cache archive was not uploaded")
	} else if err != nil {
		return fmt.Errorf("check cache archive: %w", err)
	}
	if info.Size != r.Size {
		return badRequest("the uploaded cache archive has %d bytes, not %d", info.Size, r.Size)
	}
	return s.putJSON(ctx, dir+manifestName, cacheManifest{
		Key: r.Key, Object: object, Size: r.Size, SHA256: r.SHA256, CreatedAt: s.cfg.Now().UTC(),
		JobNumber: tc.JobNumber, TaskID: taskID,
	})
}

func (s *Service) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.cfg.Blobs.Head(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, blob.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("check %s: %w", key, err)
}
