package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/runner"
)

// largeCache is the seed's advice: caches above 500 MB are slow to check
// and more likely to be corrupted in transit.
const largeCache = 500 << 20

// Members of a cache archive are named by where they live, so a restore
// puts them back in the same place even though HOME (the task directory)
// differs from task to task:
//
//	home/<path below HOME>     for paths under HOME (the default working directory)
//	root/<absolute path>       for other absolute paths
const (
	homePrefix = "home"
	rootPrefix = "root"
)

func (r *taskRun) cacheName(abs string) string {
	if rel, err := filepath.Rel(r.home, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return filepath.ToSlash(filepath.Join(homePrefix, rel))
	}
	return rootPrefix + filepath.ToSlash(abs)
}

func (r *taskRun) cacheTarget(name string) (string, bool) {
	switch {
	case name == homePrefix:
		return r.home, true
	case strings.HasPrefix(name, homePrefix+"/"):
		return filepath.Join(r.home, filepath.FromSlash(name[len(homePrefix)+1:])), true
	case strings.HasPrefix(name, rootPrefix+"/"):
		return filepath.FromSlash(name[len(rootPrefix):]), true
	}
	return "", false
}

// saveCache is the save_cache step. Keys are immutable: when the key
// exists the step says so and uploads nothing.
func (r *taskRun) saveCache(i int, st runner.Step, out io.Writer) error {
	key, err := r.renderKey(st.Key)
	if err != nil {
		return err
	}
	res, err := r.files.SaveCache(r.ctx, runner.CacheSaveRequest{Step: i, Key: key})
	if err != nil {
		return fmt.Errorf("save cache %s: %w", key, err)
	}
	if res.Exists {
		_, err := fmt.Fprintf(out, "Skipping cache generation, cache already exists for key: %s\n", key)
		return err
	}
	var members []archiveMember
	for _, p := range st.Paths {
		abs := r.expand(p, r.workdir)
		if _, err := os.Lstat(abs); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(out, "Warning: could not find %s to cache; skipping it\n", r.displayPath(abs))
			continue
		}
		members = append(members, archiveMember{src: abs, name: r.cacheName(abs)})
	}
	if len(members) == 0 {
		_, err := fmt.Fprintf(out, "No paths to cache exist: no cache saved for key %s\n", key)
		return err
	}
	fmt.Fprintln(out, "Creating cache archive...")
	a, err := buildArchive(r.tmp, members)
	if err != nil {
		return err
	}
	defer os.Remove(a.path)
	fmt.Fprintf(out, "Uploading cache archive (%s, %d files)...\n", humanSize(a.size), a.files)
	if a.size > largeCache {
		fmt.Fprintf(out, "Warning: this cache is %s. Caches above 500 MB take long to check and are more likely to be corrupted "+
			"in transit; consider splitting it into several caches.\n", humanSize(a.size))
	}
	if _, err := r.upload(*res.Upload, a.path); err != nil {
		return err
	}
	err = r.files.CommitCache(r.ctx, runner.CacheCommit{Step: i, Key: key, Size: a.size, SHA256: a.sha256})
	if errors.Is(err, runner.ErrConflict) {
		_, err := fmt.Fprintf(out, "Skipping cache generation, cache already exists for key: %s (saved by another job meanwhile)\n", key)
		return err
	} else if err != nil {
		return fmt.Errorf("save cache %s: %w", key, err)
	}
	fmt.Fprintf(out, "Stored Cache to %s\n", key)
	for _, m := range members {
		fmt.Fprintf(out, "  * %s\n", r.displayPath(m.src))
	}
	return nil
}

// restoreCache is the restore_cache step: the keys in order, each matching
// the newest cache whose key starts with it. A corrupt archive is reported
// and the next match is tried; finding nothing is not an error.
func (r *taskRun) restoreCache(_ int, st runner.Step, out io.Writer) error {
	var keys []string
	for _, tmpl := range st.Keys {
		k, err := r.renderKey(tmpl)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return errors.New("restore_cache needs key or keys")
	}
	res, err := r.files.RestoreCache(r.ctx, runner.CacheRestoreRequest{Keys: keys})
	if err != nil {
		return fmt.Errorf("look up caches: %w", err)
	}
	if len(res.Matches) == 0 {
		for _, k := range keys {
			fmt.Fprintf(out, "No cache is found for key: %s\n", k)
		}
		_, err := fmt.Fprintln(out, "Unable to find a cache to restore; continuing without it.")
		return err
	}
	for _, m := range res.Matches {
		fmt.Fprintf(out, "Found a cache at %s\nSize: %s\nDownloading cache archive...\n", m.Key, humanSize(m.Size))
		p, err := r.download(m.URL, m.Size, m.SHA256)
		if errors.Is(err, errCorrupt) {
			fmt.Fprintf(out, "Error: the cache %s is corrupted (%v); trying the next match.\n", m.Key, err)
			continue
		} else if err != nil {
			return fmt.Errorf("download cache %s: %w", m.Key, err)
		}
		fmt.Fprintln(out, "Validating cache... ok\nUnarchiving cache...")
		n, err := extractArchive(p, r.cacheTarget)
		os.Remove(p)
		if errors.Is(err, errCorrupt) {
			fmt.Fprintf(out, "Error: the cache %s is corrupted (%v); trying the next match.\n", m.Key, err)
			continue
		} else if err != nil {
			return fmt.Errorf("restore cache %s: %w", m.Key, err)
		}
		_, err = fmt.Fprintf(out, "Restored %d files from cache %s\n", n, m.Key)
		return err
	}
	_, err = fmt.Fprintln(out, "No usable cache found; continuing without it.")
	return err
}
