package boltkv

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// Query returns one page of a partition of the table or of an index. The
// cursor is the bucket key of the page's last item, so a page continues
// correctly even when items were written in between.
func (s *Store) Query(ctx context.Context, q kv.Query) (kv.Page, error) {
	page, err := s.query(ctx, q)
	if err != nil {
		return kv.Page{}, fmt.Errorf("boltkv: query %s %s: %w", indexName(q.Index), q.PK, err)
	}
	return page, nil
}

func indexName(i kv.Index) string {
	if i == kv.Table {
		return "table"
	}
	return string(i)
}

func (s *Store) query(ctx context.Context, q kv.Query) (kv.Page, error) {
	limit, err := kvreq.Query(q)
	if err != nil {
		return kv.Page{}, err
	}
	sc := scan{index: q.Index, prefix: partition(q.PK), desc: q.Descending}
	if q.Cursor != "" {
		if sc.after, err = decodeCursor(q.Index, sc.prefix, q.Cursor); err != nil {
			return kv.Page{}, err
		}
	}
	var empty bool
	if sc.bounds, empty = kvreq.SortKeys(q.Prefix, q.From, q.To); empty {
		return kv.Page{}, nil
	}
	if err := ctx.Err(); err != nil {
		return kv.Page{}, err
	}
	now := s.now()
	var page kv.Page
	err = s.db.View(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		var last []byte
		return sc.run(b.index(q.Index).Cursor(), func(key, val []byte) (bool, error) {
			it, ok, err := b.visible(q.Index, key, val, now)
			if err != nil || !ok {
				return true, err
			}
			if len(page.Items) == limit {
				// One more visible item exists: this page is not the last.
				page.Cursor = encodeCursor(q.Index, last)
				return false, nil
			}
			page.Items = append(page.Items, it)
			last = append(last[:0], key...)
			return true, nil
		})
	})
	return page, err
}

// visible resolves a table or index entry to its item and reports whether
// the item is unexpired.
func (b buckets) visible(index kv.Index, key, val []byte, now time.Time) (kv.Item, bool, error) {
	tkey, rec := key, val
	if index != kv.Table {
		tkey = val
		if rec = b.items.Get(tkey); rec == nil {
			return kv.Item{}, false, fmt.Errorf("boltkv: index entry %x points to missing item", key)
		}
	}
	it, ttl, err := decodeRecord(tkey, rec)
	if err != nil {
		return kv.Item{}, false, err
	}
	return it, !kvreq.Expired(ttl, now), nil
}

// scan walks the entries of one partition that lie within bounds (and
// after the cursor) in the query's direction.
type scan struct {
	index  kv.Index
	prefix []byte
	bounds kvreq.Bounds
	// after is the cursor's key, excluded, in the direction of travel.
	after []byte
	desc  bool
}

// where places a key relative to the selected entries in key order: -1
// before them, 0 among them, +1 after them.
func (sc scan) where(key []byte) (int, error) {
	if !bytes.HasPrefix(key, sc.prefix) {
		return bytes.Compare(key, sc.prefix), nil
	}
	sk, err := sortKeyOf(sc.index, sc.prefix, key)
	switch {
	case err != nil:
		return 0, err
	case sk < sc.bounds.Lo:
		return -1, nil
	case sc.bounds.Above(sk):
		return 1, nil
	case sc.after != nil && !sc.desc && bytes.Compare(key, sc.after) <= 0:
		return -1, nil
	case sc.after != nil && sc.desc && bytes.Compare(key, sc.after) >= 0:
		return 1, nil
	}
	return 0, nil
}

// start is where the cursor seeks first; the entries between it and the
// first selected entry (at most a few) are skipped by run.
func (sc scan) start() []byte {
	if sc.after != nil {
		return sc.after
	}
	b := bytes.Clone(sc.prefix)
	if !sc.desc {
		if sc.index == kv.Table {
			return append(b, sc.bounds.Lo...)
		}
		return appendEscaped(b, sc.bounds.Lo)
	}
	if !sc.bounds.HasHi {
		return prefixEnd(b)
	}
	if sc.index == kv.Table {
		return append(b, sc.bounds.Hi...)
	}
	b = appendEscaped(b, sc.bounds.Hi)
	if !sc.bounds.HiExclusive {
		// Past every entry whose sort key equals Hi (see encoding.go).
		b = append(b, 0, 2)
	}
	return b
}

// prefixEnd returns the smallest key greater than every key that begins
// with p, or nil when there is none.
func prefixEnd(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0xFF {
			p[i]++
			return p[:i+1]
		}
	}
	return nil
}

// run calls visit for each selected entry in order until visit returns
// false or an error.
func (sc scan) run(c *bolt.Cursor, visit func(key, val []byte) (bool, error)) error {
	step, skip := c.Next, -1
	if sc.desc {
		step, skip = c.Prev, 1
	}
	var k, v []byte
	if start := sc.start(); start != nil {
		k, v = c.Seek(start)
	}
	if k == nil && sc.desc {
		k, v = c.Last()
	}
	for ; k != nil; k, v = step() {
		w, err := sc.where(k)
		if err != nil {
			return err
		}
		if w == skip {
			continue
		}
		if w != 0 {
			return nil
		}
		if more, err := visit(k, v); err != nil || !more {
			return err
		}
	}
	return nil
}

// A cursor is the key of the last item of a page, tagged with its index.
func encodeCursor(index kv.Index, key []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{cursorTag(index)}, key...))
}

func decodeCursor(index kv.Index, prefix []byte, cursor string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) < 1 || b[0] != cursorTag(index) || !bytes.HasPrefix(b[1:], prefix) {
		return nil, fmt.Errorf("%w: cursor %q is not from this query", kv.ErrInvalid, cursor)
	}
	if _, err := sortKeyOf(index, prefix, b[1:]); err != nil {
		return nil, fmt.Errorf("%w: cursor %q is not from this query", kv.ErrInvalid, cursor)
	}
	return b[1:], nil
}

func cursorTag(index kv.Index) byte {
	switch index {
	case kv.GSI1:
		return '1'
	case kv.GSI2:
		return '2'
	}
	return 't'
}
