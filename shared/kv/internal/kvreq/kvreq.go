// Package kvreq holds the request rules that every kv driver applies the same
// way: validation (what is ErrInvalid), normalisation of items, expiry, and
// the sort-key range a Query selects. Keeping them in one place is what lets
// the embedded driver behave exactly like the DynamoDB driver.
package kvreq

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/orbit-ci/orbit/shared/kv"
)

// DynamoDB's limits, enforced by every driver so that the embedded driver
// rejects what DynamoDB would.
const (
	// MaxPartitionKeyBytes is the longest partition key (table or index).
	MaxPartitionKeyBytes = 2048
	// MaxSortKeyBytes is the longest sort key (table or index).
	MaxSortKeyBytes = 1024
	// MaxDataBytes is the largest Item.Data (see kv.Item).
	MaxDataBytes = kv.MaxDataBytes
	// DefaultLimit is the page size of a Query with Limit 0.
	DefaultLimit = 100
	// MaxLimit caps Query.Limit.
	MaxLimit = 1000
)

// Key checks a primary key.
func Key(pk, sk string) error {
	if err := partitionKey("PK", pk); err != nil {
		return err
	}
	return sortKey("SK", sk)
}

func partitionKey(name, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: empty %s", kv.ErrInvalid, name)
	case len(v) > MaxPartitionKeyBytes:
		return fmt.Errorf("%w: %s longer than %d bytes", kv.ErrInvalid, name, MaxPartitionKeyBytes)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", kv.ErrInvalid, name)
	}
	return nil
}

func sortKey(name, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: empty %s", kv.ErrInvalid, name)
	case len(v) > MaxSortKeyBytes:
		return fmt.Errorf("%w: %s longer than %d bytes", kv.ErrInvalid, name, MaxSortKeyBytes)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", kv.ErrInvalid, name)
	}
	return nil
}

// Item checks an item to be written. Index keys are checked only when the
// pair is complete (an incomplete pair is dropped by Normalize).
func Item(it kv.Item) error {
	if err := Key(it.PK, it.SK); err != nil {
		return err
	}
	if it.GSI1PK != "" && it.GSI1SK != "" {
		if err := partitionKey("GSI1PK", it.GSI1PK); err != nil {
			return err
		}
		if err := sortKey("GSI1SK", it.GSI1SK); err != nil {
			return err
		}
	}
	if it.GSI2PK != "" && it.GSI2SK != "" {
		if err := partitionKey("GSI2PK", it.GSI2PK); err != nil {
			return err
		}
		if err := sortKey("GSI2SK", it.GSI2SK); err != nil {
			return err
		}
	}
	if len(it.Data) > MaxDataBytes {
		return fmt.Errorf("%w: data is %d bytes, more than %d", kv.ErrInvalid, len(it.Data), MaxDataBytes)
	}
	if !it.ExpiresAt.IsZero() && it.ExpiresAt.Unix() < 1 {
		return fmt.Errorf("%w: ExpiresAt %s is before the Unix epoch", kv.ErrInvalid, it.ExpiresAt)
	}
	return nil
}

// MaxCounterName is the longest counter name Add accepts.
const MaxCounterName = 64

// Counter checks an Add: the item's key and the counter's name, 1–64
// characters of [a-z0-9_] (safe as a DynamoDB attribute name and a JSON key).
func Counter(pk, sk, name string) error {
	if err := Key(pk, sk); err != nil {
		return err
	}
	if name == "" || len(name) > MaxCounterName {
		return fmt.Errorf("%w: counter name %q is not 1 to %d characters", kv.ErrInvalid, name, MaxCounterName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("%w: counter name %q has %q (want a-z, 0-9, _)", kv.ErrInvalid, name, r)
		}
	}
	return nil
}

// Condition checks a condition: IfNotExists and IfVersion exclude each
// other, and versions start at 1.
func Condition(c kv.Condition) error {
	switch {
	case c.IfNotExists && c.IfVersion != 0:
		return fmt.Errorf("%w: IfNotExists and IfVersion together never hold", kv.ErrInvalid)
	case c.IfVersion < 0:
		return fmt.Errorf("%w: negative IfVersion %d", kv.ErrInvalid, c.IfVersion)
	}
	return nil
}

// Normalize returns the item as a driver stores it: an index key pair that
// is not complete is cleared (the item is not in that index), ExpiresAt is
// truncated to the second in UTC, Version is zero (the store sets it) and
// empty Data is nil.
func Normalize(it kv.Item) kv.Item {
	if it.GSI1PK == "" || it.GSI1SK == "" {
		it.GSI1PK, it.GSI1SK = "", ""
	}
	if it.GSI2PK == "" || it.GSI2SK == "" {
		it.GSI2PK, it.GSI2SK = "", ""
	}
	if !it.ExpiresAt.IsZero() {
		it.ExpiresAt = time.Unix(it.ExpiresAt.Unix(), 0).UTC()
	}
	if len(it.Data) == 0 {
		it.Data = nil
	}
	it.Version = 0
	return it
}

// TTL is the expiry of an item in epoch seconds, 0 when it never expires.
func TTL(it kv.Item) int64 {
	if it.ExpiresAt.IsZero() {
		return 0
	}
	return it.ExpiresAt.Unix()
}

// ExpiresAt is the inverse of TTL.
func ExpiresAt(ttl int64) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	return time.Unix(ttl, 0).UTC()
}

// Expired reports whether an item with the given TTL (epoch seconds, 0 for
// none) is invisible at now: an item stops being visible at its expiry
// second.
func Expired(ttl int64, now time.Time) bool {
	return ttl != 0 && ttl <= now.Unix()
}

// Ops checks a transaction: at most kv.MaxTransactItems operations of known
// kinds, each on a distinct valid key, with valid conditions and items.
func Ops(ops []kv.Op) error {
	if len(ops) > kv.MaxTransactItems {
		return fmt.Errorf("%w: %d operations, more than %d", kv.ErrInvalid, len(ops), kv.MaxTransactItems)
	}
	type key struct{ pk, sk string }
	seen := make(map[key]int, len(ops))
	for i, op := range ops {
		var err error
		switch op.Kind {
		case kv.OpPut:
			err = Item(op.Item)
		case kv.OpDelete, kv.OpCheck:
			err = Key(op.Item.PK, op.Item.SK)
		default:
			err = fmt.Errorf("%w: unknown operation kind %d", kv.ErrInvalid, op.Kind)
		}
		if err == nil {
			err = Condition(op.Cond)
		}
		if err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		k := key{op.Item.PK, op.Item.SK}
		if j, dup := seen[k]; dup {
			return fmt.Errorf("%w: operations %d and %d both touch %s/%s", kv.ErrInvalid, j, i, k.pk, k.sk)
		}
		seen[k] = i
	}
	return nil
}

// Query checks a query and returns its effective page size.
func Query(q kv.Query) (limit int, err error) {
	switch q.Index {
	case kv.Table, kv.GSI1, kv.GSI2:
	default:
		return 0, fmt.Errorf("%w: unknown index %q", kv.ErrInvalid, q.Index)
	}
	if err := partitionKey("query PK", q.PK); err != nil {
		return 0, err
	}
	for name, v := range map[string]string{"Prefix": q.Prefix, "From": q.From, "To": q.To} {
		if !utf8.ValidString(v) {
			return 0, fmt.Errorf("%w: query %s is not valid UTF-8", kv.ErrInvalid, name)
		}
	}
	switch {
	case q.Limit < 0:
		return 0, fmt.Errorf("%w: negative limit %d", kv.ErrInvalid, q.Limit)
	case q.Limit == 0:
		return DefaultLimit, nil
	case q.Limit > MaxLimit:
		return MaxLimit, nil
	}
	return q.Limit, nil
}
