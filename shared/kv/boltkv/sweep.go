package boltkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// sweepBatch bounds the deletions of one write transaction, so a large sweep
// does not hold bbolt's single writer for long.
const sweepBatch = 1000

// Sweep deletes the items that have expired, with their index entries, and
// returns how many it deleted. Reads already hide expired items; sweeping
// only reclaims space.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	var expired [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return b.items.ForEach(func(k, v []byte) error {
			if ttl, ok := recordTTL(v); ok && kvreq.Expired(ttl, now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("boltkv: sweep: %w", err)
	}
	deleted := 0
	for len(expired) > 0 {
		if err := ctx.Err(); err != nil {
			return deleted, fmt.Errorf("boltkv: sweep: %w", err)
		}
		batch := expired[:min(sweepBatch, len(expired))]
		expired = expired[len(batch):]
		err := s.db.Update(func(tx *bolt.Tx) error {
			b, err := s.buckets(tx)
			if err != nil {
				return err
			}
			for _, k := range batch {
				// Re-check: the item may have been rewritten since the scan.
				it, ttl, found, err := b.load(k)
				if err != nil {
					return err
				}
				if !found || !kvreq.Expired(ttl, now) {
					continue
				}
				if err := b.remove(k, it); err != nil {
					return err
				}
				deleted++
			}
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("boltkv: sweep: %w", err)
		}
	}
	return deleted, nil
}

// recordTTL reads only the TTL of an encoded record.
func recordTTL(rec []byte) (int64, bool) {
	if len(rec) == 0 || rec[0] != recordFormat {
		return 0, false
	}
	_, n := binary.Uvarint(rec[1:])
	if n <= 0 {
		return 0, false
	}
	ttl, m := binary.Varint(rec[1+n:])
	return ttl, m > 0
}

// Run sweeps expired items every Config.SweepInterval until ctx is done,
// then returns nil. It returns early only if a sweep fails.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}
