package boltkv_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
)

// TestGroupCommitOutcomes races writes that succeed with writes whose
// condition fails, so that they share commits: each gets its own outcome,
// the failed ones write nothing, the others are all stored.
func TestGroupCommitOutcomes(t *testing.T) {
	s := open(t, boltkv.Config{})
	const writers = 60
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			it := kv.Item{PK: "p", SK: fmt.Sprintf("k%02d", i), Data: []byte("v")}
			cond := kv.Condition{}
			if i%3 == 0 {
				cond.IfVersion = 7 // the item does not exist: conflict
			}
			_, err := s.Put(t.Context(), it, cond)
			if i%3 == 0 {
				assert.ErrorIs(t, err, kv.ErrConflict, "writer %d", i)
			} else {
				assert.NoError(t, err, "writer %d", i)
			}
		})
	}
	wg.Wait()
	for i := range writers {
		_, err := s.Get(t.Context(), "p", fmt.Sprintf("k%02d", i))
		if i%3 == 0 {
			assert.ErrorIs(t, err, kv.ErrNotFound, "item %d", i)
		} else {
			assert.NoError(t, err, "item %d", i)
		}
	}
}

// BenchmarkPutParallel measures concurrent unconditional Puts (16
// goroutines per CPU) through the driver, which shares commits between
// writes that arrive together, against the baseline of one bbolt
// transaction (one fsync) per write on the same disk in the same run.
func BenchmarkPutParallel(b *testing.B) {
	b.Run("baseline=bolt.Update-per-write", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, nil)
		require.NoError(b, err)
		defer db.Close()
		require.NoError(b, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }))
		var n atomic.Int64
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := []byte(fmt.Sprint(n.Add(1)))
				if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put(k, []byte("v")) }); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("boltkv", func(b *testing.B) {
		s := open(b, boltkv.Config{})
		var n atomic.Int64
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				it := kv.Item{PK: "p", SK: fmt.Sprint(n.Add(1)), Data: []byte("v")}
				if _, err := s.Put(b.Context(), it, kv.Condition{}); err != nil {
					b.Error(err)
				}
			}
		})
	})
}

// TestUpdateSharesCommits runs functions given to Update beside kv writes:
// one that writes and then fails leaves nothing behind and returns its own
// error, and every other write of its group still commits.
func TestUpdateSharesCommits(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "shared.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := boltkv.New(db, boltkv.Config{})
	require.NoError(t, err)
	require.NoError(t, s.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }))
	errBroken := errors.New("broken write")
	const writers = 40
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			key := []byte(fmt.Sprintf("k%02d", i))
			switch i % 4 {
			case 0: // writes, then fails: rolled back
				err := s.Update(func(tx *bolt.Tx) error {
					if err := tx.Bucket([]byte("other")).Put(key, []byte("partial")); err != nil {
						return err
					}
					return errBroken
				})
				assert.ErrorIs(t, err, errBroken)
			case 1:
				assert.NoError(t, s.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("other")).Put(key, []byte("v")) }))
			default:
				_, err := s.Put(t.Context(), kv.Item{PK: "p", SK: string(key)}, kv.Condition{})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for i := range writers {
			v := tx.Bucket([]byte("other")).Get([]byte(fmt.Sprintf("k%02d", i)))
			switch i % 4 {
			case 0:
				assert.Nil(t, v, "failed write %d left data", i)
			case 1:
				assert.Equal(t, "v", string(v), "write %d", i)
			}
		}
		return nil
	}))
	for i := range writers {
		if i%4 >= 2 {
			_, err := s.Get(t.Context(), "p", fmt.Sprintf("k%02d", i))
			assert.NoError(t, err, "kv write %d", i)
		}
	}
}
