// Package boltkv is the embedded driver of the kv port (see package kv),
// storing items in a bbolt file. It is exact: conditions, versions,
// transactions and index updates all happen inside one bbolt write
// transaction (writes that arrive together share one, see commit.go: a
// bbolt commit is an fsync, milliseconds, and it dominated every request
// that wrote), and index queries see every committed write at once (they are
// never stale, unlike DynamoDB's).
//
// Items live under one top-level bucket (Config.Bucket) in three nested
// buckets: "items" keyed by primary key, and "gsi1", "gsi2" whose entries
// point to primary keys (see encoding.go). Expired items are filtered on
// every read; Sweep and Run delete them for good.
package boltkv

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// Config configures a Store.
type Config struct {
	// Bucket names the top-level bucket that holds the store, so that
	// several stores and other embedded drivers can share one bbolt file.
	// "" means "kv".
	Bucket string
	// Now is the clock that decides expiry; nil means time.Now.
	Now func() time.Time
	// SweepInterval is how often Run deletes expired items; 0 means one
	// minute.
	SweepInterval time.Duration
}

// Store is a kv.Store on bbolt. It is safe for concurrent use.
type Store struct {
	db            *bolt.DB
	owned         bool
	bucket        []byte
	now           func() time.Time
	sweepInterval time.Duration
	commits       *committer
}

var _ kv.Store = (*Store)(nil)

// OpenTimeout is how long Open waits for another process to release the
// file's lock.
const OpenTimeout = 5 * time.Second

var (
	itemsBucket = []byte("items")
	gsi1Bucket  = []byte("gsi1")
	gsi2Bucket  = []byte("gsi2")
)

// Open opens (creating if needed) the bbolt file at path and returns a Store
// that owns it: Close closes the file.
func Open(path string, cfg Config) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	s, err := New(db, cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New returns a Store in an open bbolt database, creating its buckets. The
// caller keeps ownership of db: Close does not close it.
func New(db *bolt.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("boltkv: nil database")
	}
	s := &Store{
		db:            db,
		bucket:        []byte(cfg.Bucket),
		now:           cfg.Now,
		sweepInterval: cfg.SweepInterval,
	}
	if len(s.bucket) == 0 {
		s.bucket = []byte("kv")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sweepInterval <= 0 {
		s.sweepInterval = time.Minute
	}
	s.commits = &committer{s: s}
	err := db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{itemsBucket, gsi1Bucket, gsi2Bucket} {
			if _, err := top.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: create buckets in %s: %w", s.bucket, err)
	}
	return s, nil
}

// Close closes the bbolt file if the Store opened it (Open), and does
// nothing for a Store made with New.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltkv: close: %w", err)
	}
	return nil
}

// Get returns the unexpired item with the key, or an error matching
// kv.ErrNotFound.
func (s *Store) Get(ctx context.Context, pk, sk string) (kv.Item, error) {
	var it kv.Item
	err := kvreq.Key(pk, sk)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		now := s.now()
		err = s.db.View(func(tx *bolt.Tx) error {
			b, err := s.buckets(tx)
			if err != nil {
				return err
			}
			var ttl int64
			var found bool
			it, ttl, found, err = b.load(tableKey(pk, sk))
			if err == nil && (!found || kvreq.Expired(ttl, now)) {
				err = kv.ErrNotFound
			}
			return err
		})
	}
	if err != nil {
		return kv.Item{}, fmt.Errorf("boltkv: get %s/%s: %w", pk, sk, err)
	}
	return it, nil
}

// Put writes the item if cond holds and returns it as stored.
func (s *Store) Put(ctx context.Context, item kv.Item, cond kv.Condition) (kv.Item, error) {
	var stored kv.Item
	err := s.write(ctx, func(b buckets, now time.Time) (err error) {
		stored, err = b.apply(kv.Op{Kind: kv.OpPut, Item: item, Cond: cond}, now)
		return err
	}, kvreq.Item(item), kvreq.Condition(cond))
	if err != nil {
		return kv.Item{}, fmt.Errorf("boltkv: put %s/%s: %w", item.PK, item.SK, err)
	}
	return stored, nil
}

// Delete removes the item if cond holds; deleting a missing item under the
// zero Condition succeeds.
func (s *Store) Delete(ctx context.Context, pk, sk string, cond kv.Condition) error {
	err := s.write(ctx, func(b buckets, now time.Time) error {
		_, err := b.apply(kv.Op{Kind: kv.OpDelete, Item: kv.Item{PK: pk, SK: sk}, Cond: cond}, now)
		return err
	}, kvreq.Key(pk, sk), kvreq.Condition(cond))
	if err != nil {
		return fmt.Errorf("boltkv: delete %s/%s: %w", pk, sk, err)
	}
	return nil
}

// Transact applies ops in one bbolt transaction, all or nothing.
func (s *Store) Transact(ctx context.Context, ops []kv.Op) error {
	err := kvreq.Ops(ops)
	if err == nil && len(ops) == 0 {
		return nil
	}
	err = s.write(ctx, func(b buckets, now time.Time) error {
		// Every condition is checked before anything is written (an item
		// appears in one operation only, so the checks are independent of
		// the writes): a transaction that fails writes nothing, which lets it
		// share a commit with other writes (commit.go).
		for i, op := range ops {
			if _, _, _, err := b.check(tableKey(op.Item.PK, op.Item.SK), op.Cond, now); err != nil {
				return fmt.Errorf("operation %d on %s/%s: %w", i, op.Item.PK, op.Item.SK, err)
			}
		}
		for i, op := range ops {
			if _, err := b.apply(op, now); err != nil {
				return fmt.Errorf("operation %d on %s/%s: %w", i, op.Item.PK, op.Item.SK, err)
			}
		}
		return nil
	}, err)
	if err != nil {
		return fmt.Errorf("boltkv: transact: %w", err)
	}
	return nil
}

// write runs fn in a write transaction unless one of the validation errors
// or the context says otherwise.
func (s *Store) write(ctx context.Context, fn func(buckets, time.Time) error, invalid ...error) error {
	if err := errors.Join(invalid...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.commits.do(fn)
}

// buckets are the store's buckets inside one bbolt transaction.
type buckets struct {
	items, gsi1, gsi2 *bolt.Bucket
}

func (s *Store) buckets(tx *bolt.Tx) (buckets, error) {
	top := tx.Bucket(s.bucket)
	if top == nil {
		return buckets{}, fmt.Errorf("bucket %s is missing", s.bucket)
	}
	b := buckets{items: top.Bucket(itemsBucket), gsi1: top.Bucket(gsi1Bucket), gsi2: top.Bucket(gsi2Bucket)}
	if b.items == nil || b.gsi1 == nil || b.gsi2 == nil {
		return buckets{}, fmt.Errorf("bucket %s is incomplete", s.bucket)
	}
	return b, nil
}

func (b buckets) index(i kv.Index) *bolt.Bucket {
	switch i {
	case kv.GSI1:
		return b.gsi1
	case kv.GSI2:
		return b.gsi2
	}
	return b.items
}

// load reads the stored item (expired or not) with the items key.
func (b buckets) load(tkey []byte) (it kv.Item, ttl int64, found bool, err error) {
	rec := b.items.Get(tkey)
	if rec == nil {
		return kv.Item{}, 0, false, nil
	}
	it, ttl, err = decodeRecord(tkey, rec)
	return it, ttl, err == nil, err
}

// apply performs one operation under its condition. The caller's bbolt
// transaction makes the check and the write atomic.
func (b buckets) apply(op kv.Op, now time.Time) (kv.Item, error) {
	tkey := tableKey(op.Item.PK, op.Item.SK)
	old, found, live, err := b.check(tkey, op.Cond, now)
	if err != nil {
		return kv.Item{}, err
	}
	switch op.Kind {
	case kv.OpCheck:
		return kv.Item{}, nil
	case kv.OpDelete:
		if found {
			return kv.Item{}, b.remove(tkey, old)
		}
		return kv.Item{}, nil
	case kv.OpPut:
		it := kvreq.Normalize(op.Item)
		// An expired item no longer exists: the new one starts at version 1.
		it.Version = 1
		if live {
			it.Version = old.Version + 1
		}
		if found {
			if err := b.unindex(tkey, old); err != nil {
				return kv.Item{}, err
			}
		}
		if err := b.items.Put(tkey, encodeRecord(it)); err != nil {
			return kv.Item{}, err
		}
		return it, b.reindex(tkey, it)
	}
	return kv.Item{}, fmt.Errorf("%w: unknown operation kind %d", kv.ErrInvalid, op.Kind)
}

// check loads the stored item with the items key and checks cond against
// it. It writes nothing, so a failed check leaves the transaction clean.
func (b buckets) check(tkey []byte, cond kv.Condition, now time.Time) (old kv.Item, found, live bool, err error) {
	old, ttl, found, err := b.load(tkey)
	if err != nil {
		return kv.Item{}, false, false, err
	}
	live = found && !kvreq.Expired(ttl, now)
	switch {
	case cond.IfNotExists && live:
		err = fmt.Errorf("%w: item exists (version %d)", kv.ErrConflict, old.Version)
	case cond.IfVersion != 0 && !live:
		err = fmt.Errorf("%w: item does not exist, want version %d", kv.ErrConflict, cond.IfVersion)
	case cond.IfVersion != 0 && old.Version != cond.IfVersion:
		err = fmt.Errorf("%w: item has version %d, want %d", kv.ErrConflict, old.Version, cond.IfVersion)
	}
	return old, found, live, err
}

// remove deletes a stored item and its index entries.
func (b buckets) remove(tkey []byte, old kv.Item) error {
	if err := b.unindex(tkey, old); err != nil {
		return err
	}
	return b.items.Delete(tkey)
}

func (b buckets) unindex(tkey []byte, it kv.Item) error {
	if it.GSI1PK != "" {
		if err := b.gsi1.Delete(indexKey(it.GSI1PK, it.GSI1SK, tkey)); err != nil {
			return err
		}
	}
	if it.GSI2PK != "" {
		return b.gsi2.Delete(indexKey(it.GSI2PK, it.GSI2SK, tkey))
	}
	return nil
}

func (b buckets) reindex(tkey []byte, it kv.Item) error {
	if it.GSI1PK != "" {
		if err := b.gsi1.Put(indexKey(it.GSI1PK, it.GSI1SK, tkey), tkey); err != nil {
			return err
		}
	}
	if it.GSI2PK != "" {
		return b.gsi2.Put(indexKey(it.GSI2PK, it.GSI2SK, tkey), tkey)
	}
	return nil
}
