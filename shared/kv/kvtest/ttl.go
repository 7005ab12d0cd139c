package kvtest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
)

func testTTL(t *testing.T, s kv.Store) {
	indexed := func(sk string) kv.Item {
		it := withIndexKeys(item("ttl", sk), kv.GSI1, "ttl-g1", sk)
		return withIndexKeys(it, kv.GSI2, "ttl-g2", sk)
	}
	gone := indexed("gone")
	gone.ExpiresAt = time.Now().Add(-5 * time.Second)
	got, err := s.Put(t.Context(), gone, kv.Condition{})
	require.NoError(t, err, "writing an already expired item is allowed")
	assertItem(t, stored(gone, 1), got)

	future := indexed("future")
	future.ExpiresAt = time.Now().Add(time.Hour)
	future = put(t, s, future)
	forever := put(t, s, indexed("forever"))

	assertMissing(t, s, "ttl", "gone")
	assertStored(t, s, future)
	assertStored(t, s, forever)

	tests := []struct {
		name string
		q    kv.Query
	}{
		{"table", kv.Query{PK: "ttl"}},
		{"table descending", kv.Query{PK: "ttl", Descending: true}},
		{"table range", kv.Query{PK: "ttl", From: "f", To: "h"}},
		{"GSI1", kv.Query{Index: kv.GSI1, PK: "ttl-g1"}},
		{"GSI2", kv.Query{Index: kv.GSI2, PK: "ttl-g2", Descending: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eventually(t, func(c *assert.CollectT) {
				items, _ := queryAll(t.Context(), c, s, tc.q)
				keys := sortKeys(items)
				assert.NotContains(c, keys, "gone")
				assert.Subset(c, keys, []string{"future", "forever"})
			})
		})
	}

	t.Run("rewriting revives", func(t *testing.T) {
		got := put(t, s, indexed("gone"))
		assert.Equal(t, int64(1), got.Version)
		assertStored(t, s, stored(indexed("gone"), 1))
	})
	t.Run("deleting an expired item", func(t *testing.T) {
		putExpired(t, s, item("ttl", "deleted"))
		require.NoError(t, s.Delete(t.Context(), "ttl", "deleted", kv.Condition{}))
		assertMissing(t, s, "ttl", "deleted")
	})
}

// testTTLPagination interleaves expired items with live ones: pages hold
// only live items and the cursor is still exact.
func testTTLPagination(t *testing.T, s kv.Store) {
	var live []string
	for i, sk := range seq("k", 20) {
		if i%3 == 0 {
			put(t, s, item("ttlpages", sk))
			live = append(live, sk)
		} else {
			putExpired(t, s, item("ttlpages", sk))
		}
	}
	putExpired(t, s, item("ttlpages", "z-expired-tail"))
	// live: k00 k03 k06 k09 k12 k15 k18
	for _, desc := range []bool{false, true} {
		want := live
		if desc {
			want = reversed(live)
		}
		items, pages := queryAll(t.Context(), t, s, kv.Query{PK: "ttlpages", Limit: 3, Descending: desc})
		assert.Equal(t, want, sortKeys(items), "descending=%v", desc)
		assert.Equal(t, []int{3, 3, 1}, pages, "descending=%v", desc)
	}
	items, pages := queryAll(t.Context(), t, s, kv.Query{PK: "ttlpages", Limit: 7})
	assert.Equal(t, live, sortKeys(items))
	assert.Equal(t, []int{7}, pages, "expired items after the last live one do not make another page")
}

// testConcurrentIncrements runs optimistic read-modify-write loops from
// several goroutines: no increment may be lost.
func testConcurrentIncrements(t *testing.T, s kv.Store) {
	const workers, increments = 8, 10
	_, err := s.Put(t.Context(), kv.Item{PK: "counter", SK: "c", Data: []byte("0")}, kv.Condition{IfNotExists: true})
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for done := 0; done < increments; {
				cur, err := s.Get(t.Context(), "counter", "c")
				if !assert.NoError(t, err) {
					return
				}
				n, err := strconv.Atoi(string(cur.Data))
				if !assert.NoError(t, err) {
					return
				}
				next := kv.Item{PK: "counter", SK: "c", Data: []byte(strconv.Itoa(n + 1))}
				_, err = s.Put(t.Context(), next, kv.Condition{IfVersion: cur.Version})
				switch {
				case errors.Is(err, kv.ErrConflict):
					continue // someone else won; read again
				case !assert.NoError(t, err):
					return
				}
				done++
			}
		})
	}
	wg.Wait()

	got, err := s.Get(t.Context(), "counter", "c")
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(workers*increments), string(got.Data))
	assert.Equal(t, int64(workers*increments+1), got.Version)
}

// testConcurrentCreate races IfNotExists writes: exactly one wins.
func testConcurrentCreate(t *testing.T, s kv.Store) {
	const workers = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []int
	)
	for w := range workers {
		wg.Go(func() {
			_, err := s.Put(t.Context(), kv.Item{PK: "race", SK: "r", Data: []byte{byte(w)}}, kv.Condition{IfNotExists: true})
			if errors.Is(err, kv.ErrConflict) {
				return
			}
			if assert.NoError(t, err) {
				mu.Lock()
				winners = append(winners, w)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, winners, 1)
	got, err := s.Get(t.Context(), "race", "r")
	require.NoError(t, err)
	assert.Equal(t, []byte{byte(winners[0])}, got.Data)
	assert.Equal(t, int64(1), got.Version)
}
