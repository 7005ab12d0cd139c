package dirblob

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/internal/blobrules"
)

// List implements blob.Store.
//
// Directory order is not key order (a long segment continues in a ".c"
// directory whose keys interleave with its siblings'), so List merges: a heap
// holds objects by key and directories by the key prefix they share, which
// is a lower bound of every key inside; a directory is read only when it
// reaches the front. Directories that cannot hold a key with the prefix and
// after startAfter are never read.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) (blob.ListPage, error) {
	limit = blobrules.Limit(limit)
	rel, keyPrefix := dirPath(prefix)
	h := &entryHeap{{key: keyPrefix, dir: true, path: filepath.Join(s.objects, rel)}}
	var page blob.ListPage
	for h.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return blob.ListPage{}, fmt.Errorf("list %s: %w", prefix, err)
		}
		e := heap.Pop(h).(entry)
		if e.dir {
			if err := s.expand(h, e, prefix, startAfter); err != nil {
				return blob.ListPage{}, fmt.Errorf("list %s: %w", prefix, err)
			}
			continue
		}
		if len(page.Objects) == limit {
			page.Truncated = true
			break
		}
		info, err := s.listInfo(e)
		if errors.Is(err, blob.ErrNotFound) {
			continue // deleted since its directory was read
		}
		if err != nil {
			return blob.ListPage{}, fmt.Errorf("list %s: %w", prefix, err)
		}
		page.Objects = append(page.Objects, info)
	}
	return page, nil
}

// expand pushes the entries of directory e that may hold listed keys.
func (s *Store) expand(h *entryHeap, e entry, prefix, startAfter string) error {
	entries, err := os.ReadDir(e.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // deleted (or never made)
	}
	if err != nil {
		return err
	}
	for _, de := range entries {
		part, suffix, err := decodeName(de.Name())
		if err != nil {
			continue
		}
		key := e.key + part
		if suffix == suffixObject {
			if !de.IsDir() && strings.HasPrefix(key, prefix) && key > startAfter {
				heap.Push(h, entry{key: key, path: filepath.Join(e.path, de.Name())})
			}
			continue
		}
		if de.IsDir() && mayHold(key, prefix, startAfter) {
			heap.Push(h, entry{key: key, dir: true, path: filepath.Join(e.path, de.Name())})
		}
	}
	return nil
}

// mayHold reports whether some key starting with keyPrefix (and longer) can
// start with prefix and sort after startAfter.
func mayHold(keyPrefix, prefix, startAfter string) bool {
	if !strings.HasPrefix(keyPrefix, prefix) && !strings.HasPrefix(prefix, keyPrefix) {
		return false
	}
	// Every key inside sorts before startAfter when keyPrefix already does
	// at a byte where they differ.
	return keyPrefix >= startAfter || strings.HasPrefix(startAfter, keyPrefix)
}

// listInfo reads a listed object's Info; List carries no content type.
func (s *Store) listInfo(e entry) (blob.Info, error) {
	f, err := os.Open(e.path)
	if errors.Is(err, fs.ErrNotExist) {
		return blob.Info{}, blob.ErrNotFound
	}
	if err != nil {
		return blob.Info{}, err
	}
	o, err := readObject(f, e.key)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return blob.Info{}, err
	}
	o.info.ContentType = ""
	return o.info, nil
}

// entry is an object (key is its key) or a directory (key is the prefix its
// keys share).
type entry struct {
	key  string
	dir  bool
	path string
}

type entryHeap []entry

func (h entryHeap) Len() int { return len(h) }

func (h entryHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key < h[j].key
	}
	return !h[i].dir && h[j].dir // an object before the directory it prefixes
}

func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *entryHeap) Push(x any) { *h = append(*h, x.(entry)) }

func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
