package insights

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// the key's middle, already escaped), unless r was added before. It returns
// whether r was new.
//
// The cost of one add does not grow with the day's history: it reads only
// the day's last shard (a descending query of one item) and writes that
// shard together with a small marker of r (seenSK), all or nothing. The
// marker, not a scan of every shard, is what recognises a run heard twice
// (a redelivered transition), however many runs came between.
func (in *Insights) add(ctx context.Context, pk, group string, r Run) (bool, error) {
	prefix := day(r.At) + "#" + group + "#"
	exp := r.At.UTC().Truncate(24 * time.Hour).Add(Retention)
	seen := kv.Item{PK: pk, SK: seenSK(prefix, r), Data: []byte("{}"), ExpiresAt: exp}
	for range maxAttempts {
		page, err := in.kv.Query(ctx, kv.Query{PK: pk, Prefix: prefix, Descending: true, Limit: 1})
		if err != nil {
			return false, fmt.Errorf("read bucket %s/%s: %w", pk, prefix, err)
		}
		var last bucket
		cond := kv.Condition{IfNotExists: true}
		sk := prefix + shard(0)
		if len(page.Items) == 1 {
			it := page.Items[0]
			if err := json.Unmarshal(it.Data, &last); err != nil {
				return false, fmt.Errorf("decode bucket %s/%s: %w", it.PK, it.SK, err)
			}
			n, err := strconv.Atoi(strings.TrimPrefix(it.SK, prefix))
			if err != nil {
				return false, fmt.Errorf("bucket %s/%s: shard is not a number: %w", it.PK, it.SK, err)
			}
			if slices.ContainsFunc(last.Runs, func(x Run) bool { return x.key() == r.key() }) {
				return false, nil // heard before (a bucket written before markers existed)
			}
			if len(last.Runs) >= in.shardRuns {
				if n+1 >= maxShards {
					return false, fmt.Errorf("bucket %s/%s: %d runs in one day, the most insights keep", pk, prefix, maxShards*in.shardRuns)
				}
				sk, last = prefix+shard(n+1), bucket{}
			} else {
				cond, sk = kv.Condition{IfVersion: it.Version}, it.SK
			}
		}
		last.Runs = append(last.Runs, r)
		data, err := json.Marshal(last)
		if err != nil {
			return false, err
		}
		err = in.kv.Transact(ctx, []kv.Op{
			{Kind: kv.OpPut, Item: seen, Cond: kv.Condition{IfNotExists: true}},
			{Kind: kv.OpPut, Item: kv.Item{PK: pk, SK: sk, Data: data, ExpiresAt: exp}, Cond: cond},
		})
		if errors.Is(err, kv.ErrConflict) {
			// Either r was added already, or someone wrote the shard first.
			if _, err := in.kv.Get(ctx, pk, seen.SK); err == nil {
				return false, nil
			} else if !errors.Is(err, kv.ErrNotFound) {
				return false, fmt.Errorf("read run marker %s/%s: %w", pk, seen.SK, err)
			}
			continue
		}
		if err != nil {
			return false, fmt.Errorf("write bucket %s/%s: %w", pk, sk, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("write bucket %s/%s: too much contention", pk, prefix)
}

// seenSK is the sort key of the marker that r was added to the buckets of
// prefix. '~' sorts after every day's keys, so the range reads of runs never
// see markers.
func seenSK(prefix string, r Run) string { return "~seen#" + prefix + r.key() }

// shard names the n-th bucket of a day and group. Shards sort by name, so
// a day and group holds at most maxShards of them (a million runs of one
// job).
const maxShards = 1000

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
	// Sort pointers to the (shared, read-only) cached runs, not the runs:
	// a Run is a few hundred bytes, and a stable sort of 26,000 of them
	// moved each many times. Ties keep the read order (bucket, then place
	// in the bucket), as the stable sort of copies did; the runs are copied
	// once, into their place.
	ptrs := make([]*Run, 0, n)
	for _, rs := range parts {
		for i := range rs {
			if r := &rs[i]; !r.At.Before(from) && r.At.Before(to) {
				ptrs = append(ptrs, r)
			}
		}
	}
	if !slices.IsSortedFunc(ptrs, func(a, b *Run) int { return a.At.Compare(b.At) }) {
		slices.SortStableFunc(ptrs, func(a, b *Run) int { return a.At.Compare(b.At) })
	}
	out := make([]Run, len(ptrs))
	for i, r := range ptrs {
		out[i] = *r
	}
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
