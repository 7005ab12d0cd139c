package kvtest

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
)

// testIndex queries each secondary index. Index reads are eventually
// consistent in DynamoDB, so every check waits until it holds.
func testIndex(t *testing.T, s kv.Store) {
	for _, idx := range indexes {
		t.Run(string(idx), func(t *testing.T) {
			org := "org#" + string(idx)
			// Table keys deliberately disagree with index order.
			entries := []struct{ pk, gsk string }{
				{"job#f", "2024-01"},
				{"job#e", "2024-02"},
				{"job#d", "2024-02"}, // tie with job#e
				{"job#c", "2024-03"},
				{"job#b", "2025-01"},
				{"job#a", "2025-02"},
			}
			byPK := map[string]kv.Item{}
			for _, e := range entries {
				it := withIndexKeys(item(e.pk+string(idx), "meta"), idx, org, e.gsk)
				byPK[it.PK] = put(t, s, it)
			}
			// Not in the index: no keys, half a pair, or another partition.
			put(t, s, item("job#none"+string(idx), "meta"))
			put(t, s, withIndexKeys(item("job#half-pk"+string(idx), "meta"), idx, org, ""))
			put(t, s, withIndexKeys(item("job#half-sk"+string(idx), "meta"), idx, "", "2024-01"))
			put(t, s, withIndexKeys(item("job#other"+string(idx), "meta"), idx, org+"#other", "2024-01"))
			// In the other index only.
			for _, other := range indexes {
				if other != idx {
					put(t, s, withIndexKeys(item("job#elsewhere"+string(idx), "meta"), other, org, "2024-01"))
				}
			}

			j := func(names ...string) []string {
				out := make([]string, len(names))
				for i, n := range names {
					out[i] = "job#" + n + string(idx)
				}
				return out
			}
			tests := []struct {
				name  string
				q     kv.Query
				want  [][]string // groups of equal index sort keys, in order
				pages []int
			}{
				{"all", kv.Query{}, [][]string{j("f"), j("d", "e"), j("c"), j("b"), j("a")}, []int{6}},
				{"descending", kv.Query{Descending: true}, [][]string{j("a"), j("b"), j("c"), j("d", "e"), j("f")}, []int{6}},
				{"prefix", kv.Query{Prefix: "2024-"}, [][]string{j("f"), j("d", "e"), j("c")}, []int{4}},
				{"range", kv.Query{From: "2024-02", To: "2025-01"}, [][]string{j("d", "e"), j("c"), j("b")}, []int{4}},
				{"prefix and range descending", kv.Query{Prefix: "2024", From: "2024-02", Descending: true}, [][]string{j("c"), j("d", "e")}, []int{3}},
				{"pages", kv.Query{Limit: 2}, [][]string{j("f"), j("d", "e"), j("c"), j("b"), j("a")}, []int{2, 2, 2}},
				{"pages descending", kv.Query{Limit: 4, Descending: true}, [][]string{j("a"), j("b"), j("c"), j("d", "e"), j("f")}, []int{4, 2}},
				{"pages split a tie", kv.Query{Limit: 1}, [][]string{j("f"), j("d", "e"), j("c"), j("b"), j("a")}, []int{1, 1, 1, 1, 1, 1}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					q := tc.q
					q.Index, q.PK = idx, org
					eventually(t, func(c *assert.CollectT) {
						items, pages := queryAll(t.Context(), c, s, q)
						assert.Equal(c, tc.want, groupTies(items, idx))
						assert.Equal(c, tc.pages, pages)
						for _, it := range items {
							assertItem(c, byPK[it.PK], it, "index queries return whole items")
						}
					})
				})
			}
		})
	}
}

// testIndexByteOrder checks that index sort keys order bytewise, U+0000
// and prefixes included.
func testIndexByteOrder(t *testing.T, s kv.Store) {
	want := []string{"a", "a\x00", "a\x00\x00", "a\x00\x01", "a\x01", "ab", "a\x7f", "a\u0080", "b"}
	for _, idx := range indexes {
		t.Run(string(idx), func(t *testing.T) {
			for i, gsk := range want {
				// Table keys in the opposite order, so that table order
				// cannot pass for index order.
				put(t, s, withIndexKeys(item("bytes"+string(idx), seq("", len(want))[len(want)-1-i]), idx, "bytes", gsk))
			}
			for _, desc := range []bool{false, true} {
				eventually(t, func(c *assert.CollectT) {
					items, _ := queryAll(t.Context(), c, s, kv.Query{Index: idx, PK: "bytes", Descending: desc, Limit: 2})
					var got []string
					for _, it := range items {
						got = append(got, it.GSI1SK+it.GSI2SK)
					}
					if desc {
						got = reversed(got)
					}
					assert.Equal(c, want, got, "descending=%v", desc)
				})
			}
		})
	}
}

// groupTies lists the items' partition keys grouped by equal index sort
// key (the order of ties is unspecified, so each group is sorted).
func groupTies(items []kv.Item, idx kv.Index) [][]string {
	var out [][]string
	last := ""
	for i, it := range items {
		gsk := it.GSI1SK
		if idx == kv.GSI2 {
			gsk = it.GSI2SK
		}
		if i == 0 || gsk != last {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], it.PK)
		sort.Strings(out[len(out)-1])
		last = gsk
	}
	return out
}

// testIndexMove rewrites an item's index keys and checks that it moves
// between index partitions and positions, and leaves the index when its keys
// are removed or it is deleted.
func testIndexMove(t *testing.T, s kv.Store) {
	for _, idx := range indexes {
		t.Run(string(idx), func(t *testing.T) {
			pk := "mover" + string(idx)
			for _, sk := range []string{"m", "n"} {
				put(t, s, withIndexKeys(item(pk+"#anchor", sk), idx, "B"+string(idx), sk))
			}
			query := func(c *assert.CollectT, ipk string) []string {
				items, _ := queryAll(t.Context(), c, s, kv.Query{Index: idx, PK: ipk})
				return sortKeys(items)
			}
			steps := []struct {
				name   string
				item   kv.Item
				wantA  []string
				wantB  []string
				delete bool
			}{
				{"into A", withIndexKeys(item(pk, "x"), idx, "A"+string(idx), "z"), []string{"x"}, []string{"m", "n"}, false},
				{"A to B", withIndexKeys(item(pk, "x"), idx, "B"+string(idx), "z"), nil, []string{"m", "n", "x"}, false},
				{"within B", withIndexKeys(item(pk, "x"), idx, "B"+string(idx), "a"), nil, []string{"x", "m", "n"}, false},
				{"out of the index", item(pk, "x"), nil, []string{"m", "n"}, false},
				{"back into B", withIndexKeys(item(pk, "x"), idx, "B"+string(idx), "mm"), nil, []string{"m", "x", "n"}, false},
				{"deleted", item(pk, "x"), nil, []string{"m", "n"}, true},
			}
			for _, st := range steps {
				if st.delete {
					require.NoError(t, s.Delete(t.Context(), st.item.PK, st.item.SK, kv.Condition{}), st.name)
				} else {
					put(t, s, st.item)
				}
				eventually(t, func(c *assert.CollectT) {
					assert.Equal(c, st.wantA, nilIfEmpty(query(c, "A"+string(idx))), "%s: partition A", st.name)
					assert.Equal(c, st.wantB, nilIfEmpty(query(c, "B"+string(idx))), "%s: partition B", st.name)
				})
			}
		})
	}
}
