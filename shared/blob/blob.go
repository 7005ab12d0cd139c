// Package blob is Orbit's object-storage port, shaped after S3: flat keys with
// "/" as a convention, whole-object puts, range reads, prefix listing and
// presigned download URLs.
//
// Contract every driver honours (pinned down by blobtest.Run):
//
//   - Put replaces the whole object atomically: a concurrent Get sees the old
//     or the new content, never a mix.
//   - Get of a missing key returns ErrNotFound. A Range reads bytes
//     [Offset, Offset+Length) (Length < 0: to the end); a range starting past
//     the end returns ErrInvalidRange.
//   - List returns keys with the prefix in lexical order, StartAfter
//     exclusive, at most Limit (0 means 1000), with Truncated set when more
//     remain.
//   - Delete of a missing key succeeds.
//   - PresignGet returns a URL that anyone can GET until it expires: S3's
//     SigV4 query signing in AWS; in the embedded shape an HMAC-signed URL
//     served by the API (see dirblob).
//   - Keys are 1..1024 bytes, must not start with "/" and must not contain
//     "..", NUL or backslashes; other keys return ErrInvalidKey.
//   - All methods are safe for concurrent use.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors.
var (
	ErrNotFound     = errors.New("blob: object not found")
	ErrInvalidRange = errors.New("blob: range not satisfiable")
	ErrInvalidKey   = errors.New("blob: invalid key")
)

// Info describes a stored object.
type Info struct {
	Key          string
	Size         int64
	ContentType  string
	LastModified time.Time
}

// Range selects part of an object.
type Range struct {
	Offset int64
	// Length < 0 reads to the end.
	Length int64
}

// PutOptions tune Put.
type PutOptions struct {
	// ContentType is stored with the object; "" means application/octet-stream.
	ContentType string
}

// ListPage is one page of List.
type ListPage struct {
	Objects   []Info
	Truncated bool
}

// Store is the blob port.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) error
	// Get returns the object's content (all of it when rng is nil) and info.
	// The caller closes the reader.
	Get(ctx context.Context, key string, rng *Range) (io.ReadCloser, Info, error)
	Head(ctx context.Context, key string) (Info, error)
	List(ctx context.Context, prefix, startAfter string, limit int) (ListPage, error)
	Delete(ctx context.Context, key string) error
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}
