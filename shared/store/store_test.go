package store_test

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv/dynamokvtest"
	"github.com/orbit-ci/orbit/shared/store"
)

// drivers are the kv drivers the store's tests run on: bbolt always,
// DynamoDB (moto_server) when ORBIT_DYNAMODB_ENDPOINT is set (make test).
var drivers = []struct {
	name string
	open func(t *testing.T) kv.Store
}{
	{"boltkv", func(t *testing.T) kv.Store {
		db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}},
	{"dynamokv", func(t *testing.T) kv.Store {
		c := dynamokvtest.Client(t)
		db, err := dynamokv.New(dynamokvtest.Serial(c), dynamokv.Config{Table: dynamokvtest.NewTable(t, c)})
		require.NoError(t, err)
		return db
	}},
}

// forEachDriver runs fn on a fresh store of each driver.
func forEachDriver(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) { fn(t, store.New(d.open(t), nil)) })
	}
}

// TestCreatePipelineConcurrently is issue 9's lost triggers: 100 pipelines
// created at once in one project all succeed, with the numbers 1 to 100.
func TestCreatePipelineConcurrently(t *testing.T) {
	forEachDriver(t, func(t *testing.T, st *store.Store) {
		_, err := st.CreateProject(t.Context(), store.Project{Slug: "local/acme/api", Name: "api"})
		require.NoError(t, err)
		const clients = 100
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			numbers []int64
		)
		for range clients {
			wg.Go(func() {
				p, err := st.CreatePipeline(t.Context(), store.Pipeline{ProjectSlug: "local/acme/api"})
				if assert.NoError(t, err) {
					mu.Lock()
					numbers = append(numbers, p.Number)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(numbers)
		want := make([]int64, clients)
		for i := range want {
			want[i] = int64(i + 1)
		}
		assert.Equal(t, want, numbers, "every trigger numbered, gap-free")
		got, err := st.GetPipelineByNumber(t.Context(), "local/acme/api", clients)
		require.NoError(t, err)
		assert.Equal(t, int64(clients), got.Number)
	})
}
