package insights

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
)

// readCounter counts the items the kv's queries return.
type readCounter struct {
	kv.Store
	mu      sync.Mutex
	largest int
}

func (c *readCounter) Query(ctx context.Context, q kv.Query) (kv.Page, error) {
	p, err := c.Store.Query(ctx, q)
	c.mu.Lock()
	c.largest = max(c.largest, len(p.Items))
	c.mu.Unlock()
	return p, err
}

func (c *readCounter) reset() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.largest
	c.largest = 0
	return n
}

// TestAddReadsOnlyTheLastShard: recording a run costs the same on a day
// with thousands of runs of its job as on an empty one (the soak's 10,000
// runs of one job made every add read them all), and a run heard again
// after more than a shard of later runs still counts once. Shards hold 20
// runs here, 1,000 in use.
func TestAddReadsOnlyTheLastShard(t *testing.T) {
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	c := &readCounter{Store: db}
	in := &Insights{kv: c, cache: &decoded{}, shardRuns: 20}
	ctx := t.Context()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	run := func(i int) Run {
		return Run{ID: fmt.Sprintf("job-%d", i), Attempt: 1, Workflow: "build", Job: "test", Status: "success",
			At: at.Add(time.Duration(i) * time.Second), StoppedAt: at.Add(time.Duration(i)*time.Second + time.Second), Duration: 1}
	}
	n := 2*in.shardRuns + 5 // three shards
	for i := range n {
		added, err := in.add(ctx, "P", "test#main", run(i))
		require.NoError(t, err)
		require.True(t, added, "run %d", i)
		require.LessOrEqual(t, c.reset(), 1, "run %d: an add reads one shard at most", i)
	}
	for _, i := range []int{0, in.shardRuns - 1, in.shardRuns, n - 1} {
		added, err := in.add(ctx, "P", "test#main", run(i))
		require.NoError(t, err)
		assert.False(t, added, "run %d heard again", i)
	}
	got, err := in.runs(ctx, "P", at.Add(-time.Hour), at.Add(24*time.Hour), nil)
	require.NoError(t, err)
	assert.Len(t, got, n, "every run once, in three shards, and no marker read as a run")
}
