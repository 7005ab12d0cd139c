package kvtest

import (
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
)

// testAdd pins Add's values: counters start at 0, are independent by name
// and by item, and delta 0 reads.
func testAdd(t *testing.T, s kv.Store) {
	steps := []struct {
		name          string
		pk, sk, count string
		delta, want   int64
	}{
		{"missing counter reads 0", "p", "c", "pipeline", 0, 0},
		{"first add", "p", "c", "pipeline", 1, 1},
		{"second add", "p", "c", "pipeline", 1, 2},
		{"another counter of the item", "p", "c", "job", 5, 5},
		{"the first is unchanged", "p", "c", "pipeline", 0, 2},
		{"another item", "p", "d", "pipeline", 1, 1},
		{"negative delta", "p", "c", "job", -2, 3},
	}
	for _, st := range steps {
		got, err := s.Add(t.Context(), st.pk, st.sk, st.count, st.delta)
		require.NoError(t, err, st.name)
		assert.Equal(t, st.want, got, st.name)
	}
	for _, name := range []string{"", "Pipeline", "a-b", "é", string(make([]byte, 65))} {
		_, err := s.Add(t.Context(), "p", "c", name, 1)
		assert.ErrorIs(t, err, kv.ErrInvalid, "counter name %q", name)
	}
	_, err := s.Add(t.Context(), "", "c", "pipeline", 1)
	assert.ErrorIs(t, err, kv.ErrInvalid, "empty PK")
}

// testConcurrentAdd is the lost-trigger defect's invariant: many callers
// adding at once all succeed (no contention error, ever) and see distinct,
// gap-free values.
func testConcurrentAdd(t *testing.T, s kv.Store) {
	const workers, adds = 25, 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen []int64
	)
	for range workers {
		wg.Go(func() {
			for range adds {
				n, err := s.Add(t.Context(), "counters", "c", "n", 1)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(seen)
	want := make([]int64, workers*adds)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, seen)
}
