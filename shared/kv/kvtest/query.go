package kvtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
)

// rangeKeys are the sort keys of partition "q" in byte order. "a$" is the
// successor of prefix "a#" and "b" that of prefix "a": a driver that turns a
// prefix into a range must not let them in. "é" (0xC3 0xA9) sorts after "z"
// by bytes.
var rangeKeys = []string{"A", "a", "a#1", "a#10", "a#2", "a$", "ab", "b", "b#1", "c", "z", "é"}

func testQueryRange(t *testing.T, s kv.Store) {
	for _, sk := range []string{"é", "b", "a#10", "z", "A", "a$", "c", "a#1", "ab", "b#1", "a", "a#2"} {
		put(t, s, item("q", sk))
	}
	// Neighbouring partitions, including ones whose PK begins with "q".
	for _, pk := range []string{"p", "q#", "qq", "Q", "r"} {
		put(t, s, item(pk, "a#1"))
		put(t, s, item(pk, "b"))
	}

	tests := []struct {
		name string
		q    kv.Query
		want []string
	}{
		{"all", kv.Query{}, rangeKeys},
		{"all descending", kv.Query{Descending: true}, reversed(rangeKeys)},
		{"prefix", kv.Query{Prefix: "a"}, []string{"a", "a#1", "a#10", "a#2", "a$", "ab"}},
		{"prefix with separator", kv.Query{Prefix: "a#"}, []string{"a#1", "a#10", "a#2"}},
		{"prefix is a whole key", kv.Query{Prefix: "a#1"}, []string{"a#1", "a#10"}},
		{"prefix descending", kv.Query{Prefix: "a#", Descending: true}, []string{"a#2", "a#10", "a#1"}},
		{"prefix non-ASCII", kv.Query{Prefix: "é"}, []string{"é"}},
		{"prefix matching nothing", kv.Query{Prefix: "x"}, nil},
		{"from", kv.Query{From: "b"}, []string{"b", "b#1", "c", "z", "é"}},
		{"from between keys", kv.Query{From: "b#0"}, []string{"b#1", "c", "z", "é"}},
		{"to", kv.Query{To: "a#1"}, []string{"A", "a", "a#1"}},
		{"to descending", kv.Query{To: "a#1", Descending: true}, []string{"a#1", "a", "A"}},
		{"from to", kv.Query{From: "a#2", To: "b"}, []string{"a#2", "a$", "ab", "b"}},
		{"from to descending", kv.Query{From: "b", To: "z", Descending: true}, []string{"z", "c", "b#1", "b"}},
		{"from equals to", kv.Query{From: "a#10", To: "a#10"}, []string{"a#10"}},
		{"from after to", kv.Query{From: "c", To: "b"}, nil},
		{"prefix from", kv.Query{Prefix: "a", From: "a#2"}, []string{"a#2", "a$", "ab"}},
		{"prefix from descending", kv.Query{Prefix: "a#", From: "a#10", Descending: true}, []string{"a#2", "a#10"}},
		{"prefix to", kv.Query{Prefix: "a", To: "a#2"}, []string{"a", "a#1", "a#10", "a#2"}},
		{"prefix from to descending", kv.Query{Prefix: "a", From: "a#1", To: "a#2", Descending: true}, []string{"a#2", "a#10", "a#1"}},
		{"prefix inside a wider range", kv.Query{Prefix: "a#", From: "0", To: "zz"}, []string{"a#1", "a#10", "a#2"}},
		{"range inside a prefix", kv.Query{Prefix: "a#", From: "a#1", To: "a#10"}, []string{"a#1", "a#10"}},
		{"prefix beyond to", kv.Query{Prefix: "b", To: "a"}, nil},
		{"prefix before from", kv.Query{Prefix: "a#", From: "a$"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.PK = "q"
			page, err := s.Query(t.Context(), q)
			require.NoError(t, err)
			assert.Equal(t, tc.want, nilIfEmpty(sortKeys(page.Items)))
			assert.Empty(t, page.Cursor)
			for _, it := range page.Items {
				assertItem(t, stored(item("q", it.SK), 1), it, "query returns whole items")
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func testQueryPartitions(t *testing.T, s kv.Store) {
	page, err := s.Query(t.Context(), kv.Query{PK: "nothing"})
	require.NoError(t, err)
	assert.Empty(t, page.Items)
	assert.Empty(t, page.Cursor)

	put(t, s, item("a", "1"))
	put(t, s, item("ab", "1"))
	put(t, s, item("a\x00", "1"))
	for _, pk := range []string{"a", "ab", "a\x00"} {
		page, err := s.Query(t.Context(), kv.Query{PK: pk})
		require.NoError(t, err)
		assert.Equal(t, []string{pk}, partitionKeys(page.Items))
	}
}

func testPagination(t *testing.T, s kv.Store) {
	keys := seq("item#", 25)
	for _, sk := range keys {
		put(t, s, item("pages", sk))
	}
	put(t, s, item("pages", "other#1"))

	tests := []struct {
		name  string
		q     kv.Query
		want  []string
		pages []int
	}{
		{"ascending", kv.Query{Prefix: "item#", Limit: 7}, keys, []int{7, 7, 7, 4}},
		{"descending", kv.Query{Prefix: "item#", Limit: 7, Descending: true}, reversed(keys), []int{7, 7, 7, 4}},
		{"range", kv.Query{From: "item#05", To: "item#19", Limit: 4}, keys[5:20], []int{4, 4, 4, 3}},
		{"range descending", kv.Query{From: "item#05", To: "item#19", Limit: 4, Descending: true}, reversed(keys[5:20]), []int{4, 4, 4, 3}},
		{"last page full", kv.Query{Prefix: "item#", To: "item#20", Limit: 7}, keys[:21], []int{7, 7, 7}},
		{"last page full descending", kv.Query{Prefix: "item#", From: "item#04", Limit: 7, Descending: true}, reversed(keys[4:]), []int{7, 7, 7}},
		{"one per page", kv.Query{Prefix: "item#1", Limit: 1}, keys[10:20], []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"limit above size", kv.Query{Prefix: "item#", Limit: 50}, keys, []int{25}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.PK = "pages"
			items, pages := queryAll(t.Context(), t, s, q)
			assert.Equal(t, tc.want, sortKeys(items))
			assert.Equal(t, tc.pages, pages)
		})
	}
}

func testPaginationWhileWriting(t *testing.T, s kv.Store) {
	keys := seq("k", 10)
	for _, sk := range keys {
		put(t, s, item("w", sk))
	}
	first, err := s.Query(t.Context(), kv.Query{PK: "w", Limit: 4})
	require.NoError(t, err)
	require.Equal(t, keys[:4], sortKeys(first.Items))
	require.NotEmpty(t, first.Cursor)

	// Writes behind the cursor are not seen, writes ahead of it are; the
	// cursor stays valid even when its own item is deleted.
	put(t, s, item("w", "k00a"))
	put(t, s, item("w", "k99"))
	require.NoError(t, s.Delete(t.Context(), "w", "k03", kv.Condition{}))
	require.NoError(t, s.Delete(t.Context(), "w", "k05", kv.Condition{}))

	rest, _ := queryAll(t.Context(), t, s, kv.Query{PK: "w", Limit: 4, Cursor: first.Cursor})
	assert.Equal(t, []string{"k04", "k06", "k07", "k08", "k09", "k99"}, sortKeys(rest))
}

func testDefaultLimit(t *testing.T, s kv.Store) {
	keys := seq("n#", 105)
	for i := 0; i < len(keys); i += kv.MaxTransactItems {
		var ops []kv.Op
		for _, sk := range keys[i:min(i+kv.MaxTransactItems, len(keys))] {
			ops = append(ops, kv.Op{Kind: kv.OpPut, Item: item("many", sk)})
		}
		require.NoError(t, s.Transact(t.Context(), ops))
	}
	page, err := s.Query(t.Context(), kv.Query{PK: "many"})
	require.NoError(t, err)
	assert.Equal(t, keys[:100], sortKeys(page.Items), "limit 0 means 100")
	require.NotEmpty(t, page.Cursor)
	page, err = s.Query(t.Context(), kv.Query{PK: "many", Cursor: page.Cursor})
	require.NoError(t, err)
	assert.Equal(t, keys[100:], sortKeys(page.Items))
	assert.Empty(t, page.Cursor)
}
