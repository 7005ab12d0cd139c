package insights

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// maxRuns bounds the runs of one bucket item (about 200 bytes each, far
// under kv.MaxDataBytes); a day and group with more runs grows shards.
const maxRuns = 1000

// Retention is how long the aggregates of a day (and test runs, revision
// states and flaky tests, from their last write) are kept: twice the
// longest reporting window and a day, so that last-90-days can be compared
// with the 90 days before it. Items expire through the kv's TTL.
const Retention = 181 * 24 * time.Hour

// maxAttempts bounds the compare-and-set loop of add under contention.
const maxAttempts = 50

// bucket is one shard of a day's runs of one group.
type bucket struct {
	Runs []Run `json:"runs"`
}

// add appends r to the bucket of its day and group in partition pk (group:
// the key's middle, already escaped), unless a shard of that day and group
// holds it already. It returns whether r was new.
func (in *Insights) add(ctx context.Context, pk, group string, r Run) (bool, error) {
	prefix := day(r.At) + "#" + group + "#"
	for range maxAttempts {
		page, err := in.kv.Query(ctx, kv.Query{PK: pk, Prefix: prefix, Limit: 1000})
		if err != nil {
			return false, fmt.Errorf("read bucket %s/%s: %w", pk, prefix, err)
		}
		var last bucket
		var lastItem kv.Item
		for _, it := range page.Items {
			var b bucket
			if err := json.Unmarshal(it.Data, &b); err != nil {
				return false, fmt.Errorf("decode bucket %s/%s: %w", it.PK, it.SK, err)
			}
			if slices.ContainsFunc(b.Runs, func(x Run) bool { return x.key() == r.key() }) {
				return false, nil // heard before
			}
			last, lastItem = b, it
		}
		var cond kv.Condition
		sk := prefix + shard(0)
		switch {
		case len(page.Items) == 0:
			cond.IfNotExists = true
		case len(last.Runs) >= maxRuns:
			cond.IfNotExists = true
			sk = prefix + shard(len(page.Items))
			last = bucket{}
		default:
			cond.IfVersion, sk = lastItem.Version, lastItem.SK
		}
		last.Runs = append(last.Runs, r)
		data, err := json.Marshal(last)
		if err != nil {
			return false, err
		}
		exp := r.At.UTC().Truncate(24 * time.Hour).Add(Retention)
		_, err = in.kv.Put(ctx, kv.Item{PK: pk, SK: sk, Data: data, ExpiresAt: exp}, cond)
		if errors.Is(err, kv.ErrConflict) {
			continue // someone wrote first: read again
		}
		if err != nil {
			return false, fmt.Errorf("write bucket %s/%s: %w", pk, sk, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("write bucket %s/%s: too much contention", pk, prefix)
}

func shard(n int) string { return fmt.Sprintf("%03d", n) }

// runs returns the runs of partition pk whose At is in [from, to), keeping
// those of groups keep accepts (keep sees the key's escaped group; nil
// keeps all). It reads the day buckets of the range only.
func (in *Insights) runs(ctx context.Context, pk string, from, to time.Time, keep func(group string) bool) ([]Run, error) {
	q := kv.Query{PK: pk, From: day(from), To: day(to) + "$", Limit: 1000}
	var parts [][]Run
	n := 0
	for {
		page, err := in.kv.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read buckets of %s: %w", pk, err)
		}
		for _, it := range page.Items {
			if keep != nil && !keep(groupOf(it.SK)) {
				continue
			}
			rs, err := in.cache.decode(it)
			if err != nil {
				return nil, err
			}
			parts, n = append(parts, rs), n+len(rs)
		}
		if page.Cursor == "" {
			break
		}
		q.Cursor = page.Cursor
	}
	out := make([]Run, 0, n)
	for _, rs := range parts {
		for _, r := range rs {
			if !r.At.Before(from) && r.At.Before(to) {
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Run) int { return a.At.Compare(b.At) })
	return out, nil
}

// groupOf is the group of a bucket's sort key "<day>#<group>#<n>".
func groupOf(sk string) string {
	if len(sk) < len("2006-01-02#")+4 {
		return ""
	}
	return sk[len("2006-01-02#") : len(sk)-4]
}

func itoa(n int) string { return strconv.Itoa(n) }

// decoded keeps decoded bucket items by key and version: a past day's
// buckets do not change, so a request decodes only what was written since
// the last (decoding JSON is most of a summary's time). The runs of an
// entry are shared: callers must not change them. Bounded by limit runs;
// when full it starts again empty.
type decoded struct {
	mu      sync.Mutex
	limit   int
	size    int
	entries map[string]decodedItem
}

type decodedItem struct {
	version int64
	runs    []Run
}

func (c *decoded) decode(it kv.Item) ([]Run, error) {
	key := it.PK + "\x00" + it.SK
	if c.limit > 0 {
		c.mu.Lock()
		e, ok := c.entries[key]
		c.mu.Unlock()
		if ok && e.version == it.Version {
			return e.runs, nil
		}
	}
	var b bucket
	if err := json.Unmarshal(it.Data, &b); err != nil {
		return nil, fmt.Errorf("decode bucket %s/%s: %w", it.PK, it.SK, err)
	}
	if c.limit > 0 {
		c.mu.Lock()
		if c.size+len(b.Runs) > c.limit || c.entries == nil {
			c.entries, c.size = map[string]decodedItem{}, 0
		}
		if old, ok := c.entries[key]; ok {
			c.size -= len(old.runs)
		}
		c.entries[key] = decodedItem{version: it.Version, runs: b.Runs}
		c.size += len(b.Runs)
		c.mu.Unlock()
	}
	return b.Runs, nil
}
