// Package kv is Orbit's key-value port: a single table of items addressed by a
// partition key and a sort key, with two secondary indexes, versioned
// conditional writes, small transactions and per-item expiry. It is shaped
// after DynamoDB's single-table design so that the DynamoDB driver is a thin
// mapping and the embedded (bbolt) driver can be exact.
//
// Contract every driver honours (pinned down by kvtest.Run):
//
//   - Items are unique by (PK, SK). Sort keys order bytewise (UTF-8 byte order).
//   - Version is owned by the store: the first write of an item stores version 1
//     and every later write stores the previous version + 1. The Version field
//     of an Item passed to Put is ignored; Put returns the stored item.
//   - A Condition is checked atomically with the write. A failed condition
//     returns an error matching ErrConflict and changes nothing.
//   - Get of a missing or expired item returns ErrNotFound (never a zero item
//     and nil). Expired items (ExpiresAt in the past) are invisible to Get and
//     Query even before the driver removes them (DynamoDB deletes lazily).
//   - Query returns items of one partition of the table or of an index, in
//     sort-key order (or reverse), at most Limit per page, with an opaque
//     Cursor to fetch the next page ("" when there is none). Index queries are
//     eventually consistent in DynamoDB; callers that need read-your-writes use
//     the table.
//   - Transact applies at most MaxTransactItems operations all or nothing; if
//     any condition fails none is applied and the error matches ErrConflict.
//     An item may appear in only one operation of a transaction.
//   - Add increments a named counter of a counter item atomically on the
//     store's side: it never fails for contention, however many callers add
//     at once, and no two callers see the same value. A counter item holds
//     only counters: it is written by Add alone (its Data is the driver's
//     business; read a counter with Add and delta 0), never by Put, and does
//     not expire.
//   - All methods are safe for concurrent use.
package kv

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Drivers wrap them; callers test with errors.Is.
var (
	// ErrNotFound: no (unexpired) item has the key.
	ErrNotFound = errors.New("kv: item not found")
	// ErrConflict: a write's condition did not hold (optimistic concurrency).
	ErrConflict = errors.New("kv: condition failed")
	// ErrInvalid: the request itself is malformed (empty key, too many items…).
	ErrInvalid = errors.New("kv: invalid request")
)

// MaxDataBytes is the largest Item.Data a driver stores; a larger one is
// ErrInvalid. Callers that store documents of user-controlled size check
// against it first, to say what was too large in their own terms.
const MaxDataBytes = 350 * 1024

// MaxTransactItems is DynamoDB's limit on operations in one transaction.
const MaxTransactItems = 25

// Index names a secondary index. The empty Index is the table itself.
type Index string

const (
	// Table queries the primary key (PK, SK).
	Table Index = ""
	// GSI1 queries (GSI1PK, GSI1SK).
	GSI1 Index = "GSI1"
	// GSI2 queries (GSI2PK, GSI2SK).
	GSI2 Index = "GSI2"
)

// Item is one record. Data is an opaque document (Orbit stores JSON).
type Item struct {
	PK string
	SK string
	// GSI1PK/GSI1SK place the item in index GSI1 when both are non-empty.
	GSI1PK, GSI1SK string
	// GSI2PK/GSI2SK place the item in index GSI2 when both are non-empty.
	GSI2PK, GSI2SK string
	// Data is the item's payload, at most 350 KiB (DynamoDB's item limit is
	// 400 KB including keys).
	Data []byte
	// Version is set by the store; see the package contract.
	Version int64
	// ExpiresAt, when non-zero, is when the item stops being visible (TTL).
	// Stored with second precision.
	ExpiresAt time.Time
}

// Condition guards a write. The zero Condition always holds.
type Condition struct {
	// IfNotExists holds only when no (unexpired) item has the key.
	IfNotExists bool
	// IfVersion, when non-zero, holds only when the stored item exists and its
	// version equals IfVersion.
	IfVersion int64
}

// Query selects items of one partition.
type Query struct {
	// Index is Table, GSI1 or GSI2.
	Index Index
	// PK is the partition key value (of the table or of the index).
	PK string
	// Prefix, when set, keeps sort keys that begin with it.
	Prefix string
	// From and To, when set, keep sort keys with From <= SK <= To.
	// They combine with Prefix.
	From, To string
	// Descending returns the largest sort keys first.
	Descending bool
	// Limit is the page size; 0 means 100. Drivers cap it at 1000.
	Limit int
	// Cursor continues a previous query; "" starts at the beginning.
	Cursor string
}

// Page is one page of a Query.
type Page struct {
	Items []Item
	// Cursor fetches the next page; "" when this was the last page.
	Cursor string
}

// OpKind says what a transaction operation does.
type OpKind int

const (
	// OpPut writes Item under Cond.
	OpPut OpKind = iota + 1
	// OpDelete deletes the item with Item's key under Cond.
	OpDelete
	// OpCheck only checks Cond against the item with Item's key.
	OpCheck
)

// Op is one operation of a transaction.
type Op struct {
	Kind OpKind
	Item Item
	Cond Condition
}

// Store is the kv port.
type Store interface {
	// Get returns the item with the key, or ErrNotFound.
	Get(ctx context.Context, pk, sk string) (Item, error)
	// Put writes the item if cond holds and returns it as stored (with its
	// new Version), or an error matching ErrConflict.
	Put(ctx context.Context, item Item, cond Condition) (Item, error)
	// Delete removes the item if cond holds. Deleting a missing item with
	// the zero Condition succeeds.
	Delete(ctx context.Context, pk, sk string, cond Condition) error
	// Query returns one page of a partition.
	Query(ctx context.Context, q Query) (Page, error)
	// Transact applies ops all or nothing.
	Transact(ctx context.Context, ops []Op) error
	// Add adds delta to the counter named counter of the counter item
	// (pk, sk), creating the item and the counter at 0 when missing, and
	// returns the counter's new value. Counter names are 1–64 characters of
	// [a-z0-9_]; anything else is ErrInvalid.
	Add(ctx context.Context, pk, sk, counter string, delta int64) (int64, error)
}
