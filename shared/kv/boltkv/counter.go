package boltkv

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// Add adds delta to a counter of a counter item inside one write
// transaction, which makes it atomic: bbolt runs one writer at a time, so
// concurrent Adds never conflict. The item's Data is a JSON object of the
// counters by name ({"pipeline": 12, "job": 40}), the document Orbit's store
// kept in its COUNTERS item before counters were Adds, so such items carry on
// from their values.
func (s *Store) Add(ctx context.Context, pk, sk, counter string, delta int64) (int64, error) {
	var value int64
	err := s.write(ctx, func(b buckets, now time.Time) error {
		tkey := tableKey(pk, sk)
		old, found, live, err := b.check(tkey, kv.Condition{}, now)
		if err != nil {
			return err
		}
		counters := map[string]int64{}
		if live && len(old.Data) > 0 {
			if err := json.Unmarshal(old.Data, &counters); err != nil {
				return fmt.Errorf("%w: item is not a counter item: %v", kv.ErrInvalid, err)
			}
		}
		counters[counter] += delta
		value = counters[counter]
		data, err := json.Marshal(counters)
		if err != nil {
			return err
		}
		it := kv.Item{PK: pk, SK: sk, Data: data, Version: 1}
		if live {
			it.Version = old.Version + 1
		}
		if found {
			if err := b.unindex(tkey, old); err != nil {
				return err
			}
		}
		return b.items.Put(tkey, encodeRecord(it))
	}, kvreq.Counter(pk, sk, counter))
	if err != nil {
		return 0, fmt.Errorf("boltkv: add to %s of %s/%s: %w", counter, pk, sk, err)
	}
	return value, nil
}
