package api_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/orbit-ci/orbit/shared/kv"
)

// countingKV is the kv port counting its reads (Get and Query calls): what
// a page costs the store, whatever the driver's speed.
type countingKV struct {
	kv.Store
	reads atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, pk, sk string) (kv.Item, error) {
	c.reads.Add(1)
	return c.Store.Get(ctx, pk, sk)
}

func (c *countingKV) Query(ctx context.Context, q kv.Query) (kv.Page, error) {
	c.reads.Add(1)
	return c.Store.Query(ctx, q)
}

func (c *countingKV) count() int64 { return c.reads.Load() }

var _ kv.Store = (*countingKV)(nil)

// readsFixtures are the two stores of TestUIPageReadsFlat, built once per
// process (the larger takes seconds): the same project with a short and a
// long history, one pipeline a day, so that every Insights window (at most
// 90 days) holds the same runs in both and only the history differs.
var readsFixtures = struct {
	sync.Mutex
	byN map[int]*benchFixture
}{byN: map[int]*benchFixture{}}

// readsSmall is the short history: more than the 400 pipelines a filtered
// dashboard page reads at most (pipeScanLimit), so that bound is reached
// on both stores.
const readsSmall = 500

func readsFixture(t *testing.T, n int) *benchFixture {
	readsFixtures.Lock()
	defer readsFixtures.Unlock()
	if f := readsFixtures.byN[n]; f != nil {
		return f
	}
	// not t's TempDir or Cleanup: the fixture outlives the test, for
	// -count N; TestMain removes it.
	f := newBenchFixture(persistentTB{t}, n, 24*time.Hour)
	readsFixtures.byN[n] = f
	return f
}

// persistentTB is t whose temporary directories and cleanups last until
// the process ends (TestMain).
type persistentTB struct{ testing.TB }

var persistent struct {
	sync.Mutex
	dirs     []string
	cleanups []func()
}

func (p persistentTB) TempDir() string {
	dir, err := os.MkdirTemp("", "orbit-api-fixture-")
	if err != nil {
		p.Fatal(err)
	}
	persistent.Lock()
	persistent.dirs = append(persistent.dirs, dir)
	persistent.Unlock()
	return dir
}

func (p persistentTB) Cleanup(fn func()) {
	persistent.Lock()
	persistent.cleanups = append(persistent.cleanups, fn)
	persistent.Unlock()
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(persistent.cleanups) - 1; i >= 0; i-- {
		persistent.cleanups[i]()
	}
	for _, dir := range persistent.dirs {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// TestUIPageReadsFlat: every page reads the store as many times on a
// project with 10,000 pipelines as on one with 500: a page's cost follows
// what it shows, not the history behind it.
func TestUIPageReadsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a store of 10,000 pipelines")
	}
	small, large := readsFixture(t, readsSmall), readsFixture(t, benchPipelines)
	reads := func(f *benchFixture, url string) int64 {
		t.Helper()
		f.get(t, url) // warm, as the benchmark does
		before := f.reads.count()
		f.get(t, url)
		return f.reads.count() - before
	}
	for _, pg := range uiBenchPages {
		t.Run(pg.name, func(t *testing.T) {
			urls := [2]string{pg.url(small), pg.url(large)}
			if pg.name == "dashboard-page-50" { // 20 a page: page 20 is the small store's 400th pipeline
				urls = [2]string{small.deepPage(t, 20), large.deepPage(t, 20)}
			}
			s, l := reads(small, urls[0]), reads(large, urls[1])
			assert.Positive(t, s, "the page reads the store")
			assert.Equal(t, s, l, "%s: %d reads on %d pipelines, %d on %d", pg.name, s, readsSmall, l, benchPipelines)
		})
	}
}
