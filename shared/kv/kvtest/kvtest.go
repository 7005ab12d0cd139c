// Package kvtest is the conformance suite of the kv port: every driver runs
// Run, so the embedded driver cannot drift from the DynamoDB one. Each test
// pins one clause of the contract in package kv's comment.
//
// Beyond the contract's words, the suite pins the choices every driver
// makes the same way (they are what DynamoDB does, or what a caller needs):
//
//   - An expired item does not exist: a write over it starts again at
//     version 1, IfNotExists holds and IfVersion fails.
//   - A Condition with both IfNotExists and IfVersion, a negative IfVersion
//     or Limit, an unknown Index, a cursor from elsewhere, keys that are not
//     UTF-8 or exceed DynamoDB's sizes, Data over 350 KiB and a transaction
//     touching an item twice are ErrInvalid.
//   - An item with only one key of an index pair is not in that index, and
//     the stored item has neither key of the pair.
//   - The last page has Cursor "" even when it is full.
package kvtest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Run runs the conformance suite. newStore returns an empty store for one
// subtest (and registers its cleanup with t.Cleanup); the store must use the
// real clock, since the suite writes items that expired seconds ago.
func Run(t *testing.T, newStore func(t *testing.T) kv.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s kv.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"PutIgnoresVersion", testPutIgnoresVersion},
		{"Versions", testVersions},
		{"PutConditions", testPutConditions},
		{"Delete", testDelete},
		{"Invalid", testInvalid},
		{"QueryRange", testQueryRange},
		{"QueryPartitions", testQueryPartitions},
		{"Pagination", testPagination},
		{"PaginationWhileWriting", testPaginationWhileWriting},
		{"DefaultLimit", testDefaultLimit},
		{"Index", testIndex},
		{"IndexMove", testIndexMove},
		{"IndexByteOrder", testIndexByteOrder},
		{"Transact", testTransact},
		{"TransactAllOrNothing", testTransactAllOrNothing},
		{"TransactLimits", testTransactLimits},
		{"TransactExpired", testTransactExpired},
		{"TTL", testTTL},
		{"TTLPagination", testTTLPagination},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ConcurrentCreate", testConcurrentCreate},
		{"Add", testAdd},
		{"ConcurrentAdd", testConcurrentAdd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// indexes are the secondary indexes; index tests run once for each.
var indexes = []kv.Index{kv.GSI1, kv.GSI2}

// withIndexKeys returns it placed in index idx under (pk, sk).
func withIndexKeys(it kv.Item, idx kv.Index, pk, sk string) kv.Item {
	switch idx {
	case kv.GSI1:
		it.GSI1PK, it.GSI1SK = pk, sk
	case kv.GSI2:
		it.GSI2PK, it.GSI2SK = pk, sk
	}
	return it
}

// item is an item whose data names its key, so a test can tell items apart
// by their payload too.
func item(pk, sk string) kv.Item {
	return kv.Item{PK: pk, SK: sk, Data: []byte(pk + "/" + sk)}
}

// put writes it unconditionally and returns it as stored.
func put(t *testing.T, s kv.Store, it kv.Item) kv.Item {
	t.Helper()
	got, err := s.Put(t.Context(), it, kv.Condition{})
	require.NoError(t, err, "put %s/%s", it.PK, it.SK)
	return got
}

// putExpired writes it with an expiry a few seconds in the past.
func putExpired(t *testing.T, s kv.Store, it kv.Item) kv.Item {
	t.Helper()
	it.ExpiresAt = time.Now().Add(-5 * time.Second)
	return put(t, s, it)
}

// stored is what the store holds after writing it as version v.
func stored(it kv.Item, v int64) kv.Item {
	it.Version = v
	return normalize(it)
}

// normalize makes items comparable with assert.Equal: ExpiresAt at second
// precision in UTC, empty Data as nil.
func normalize(it kv.Item) kv.Item {
	if !it.ExpiresAt.IsZero() {
		it.ExpiresAt = time.Unix(it.ExpiresAt.Unix(), 0).UTC()
	}
	if len(it.Data) == 0 {
		it.Data = nil
	}
	return it
}

func assertItem(t assert.TestingT, want, got kv.Item, msgAndArgs ...any) bool {
	return assert.Equal(t, normalize(want), normalize(got), msgAndArgs...)
}

// assertMissing checks that Get does not find the key.
func assertMissing(t *testing.T, s kv.Store, pk, sk string) {
	t.Helper()
	_, err := s.Get(t.Context(), pk, sk)
	assert.ErrorIs(t, err, kv.ErrNotFound, "get %s/%s", pk, sk)
}

// assertStored checks that Get returns want.
func assertStored(t *testing.T, s kv.Store, want kv.Item) {
	t.Helper()
	got, err := s.Get(t.Context(), want.PK, want.SK)
	if assert.NoError(t, err, "get %s/%s", want.PK, want.SK) {
		assertItem(t, want, got)
	}
}

// sortKeys lists the items' sort keys.
func sortKeys(items []kv.Item) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.SK)
	}
	return out
}

// partitionKeys lists the items' partition keys.
func partitionKeys(items []kv.Item) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.PK)
	}
	return out
}

// queryAll follows cursors to the end and returns the items and the size
// of each page.
func queryAll(ctx context.Context, t require.TestingT, s kv.Store, q kv.Query) (items []kv.Item, pages []int) {
	for range 1000 {
		page, err := s.Query(ctx, q)
		require.NoError(t, err, "query %+v", q)
		items = append(items, page.Items...)
		pages = append(pages, len(page.Items))
		if page.Cursor == "" {
			return items, pages
		}
		require.NotEqual(t, q.Cursor, page.Cursor, "cursor did not advance")
		q.Cursor = page.Cursor
	}
	require.Fail(t, "query did not end after 1000 pages")
	return nil, nil
}

// eventually retries check until it passes: index queries are eventually
// consistent in DynamoDB. Against an exact store it passes at once.
func eventually(t *testing.T, check func(c *assert.CollectT)) {
	t.Helper()
	assert.EventuallyWithT(t, check, 10*time.Second, 20*time.Millisecond)
}

// seq names n items with zero-padded numbers so that they sort numerically.
func seq(prefix string, n int) []string {
	width := max(2, len(fmt.Sprint(n-1)))
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%0*d", prefix, width, i)
	}
	return out
}

func reversed(in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}
	return out
}

// binaryData is a payload that is not text.
var binaryData = bytes.Repeat([]byte{0, 1, 0xFE, 0xFF, '\n'}, 20)
