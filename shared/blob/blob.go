// Package blob is Orbit's object-storage port, shaped after S3: flat keys with
// "/" as a convention, whole-object puts, range reads, prefix listing and
// presigned download URLs.
//
// Contract every driver honours (pinned down by blobtest.Run):
//
//   - Put replaces the whole object atomically: a concurrent Get sees the old
//     or the new content, never a mix.
//   - Get of a missing key returns ErrNotFound. A Range reads bytes
//     [Offset, Offset+Length) (Length < 0: to the end; a range that crosses
//     the end stops there); a range starting at or past the end (Offset >=
//     size, so any range of an empty object) or a negative Offset returns
//     ErrInvalidRange, as S3. The Info that Get returns describes the whole
//     object (Size is the object's size, not the range's).
//   - List returns keys with the prefix in lexical (byte) order, StartAfter
//     exclusive, at most Limit (0 means 1000, and more than 1000 means 1000),
//     with Truncated set when more remain. Listed Infos carry Key, Size and
//     LastModified but no ContentType (S3 does not list it: use Head).
//   - Delete of a missing key succeeds.
//   - PresignGet returns a URL that anyone can GET (Range requests included)
//     until it expires, ttl from now (1 s to 7 days, SigV4's limits): S3's
//     SigV4 query signing in AWS; in the embedded shape an HMAC-signed URL
//     served by the API (see dirblob). It does not check that the object
//     exists; fetching a missing one answers 404.
//   - PresignGetWith is PresignGet whose answer carries the given
//     ResponseHeaders instead of the stored ones (S3's response-content-type
//     and response-content-disposition): the overrides are covered by the
//     signature, so whoever holds the URL cannot change them. This is how a
//     caller serves an object under another type than the uploader stored
//     (an HTML artifact as text/plain) while the bytes go straight from the
//     store. A value that is no valid header value is an error; empty
//     fields keep the stored type and send no Content-Disposition. Ranges
//     and expiry work as for PresignGet.
//   - Keys are 1..1024 bytes of UTF-8, must not start with "/" and must not
//     contain "..", NUL or backslashes; other keys return ErrInvalidKey from
//     every method that takes a key. List's prefix and startAfter are plain
//     filters and are not checked.
//   - LastModified is when the object was put, to the second or better.
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
	// Key is the object's key.
	Key string
	// Size is the object's length in bytes.
	Size int64
	// ContentType is what Put stored ("" in List's Infos).
	ContentType string
	// LastModified is when the object was last put.
	LastModified time.Time
}

// Range selects part of an object.
type Range struct {
	// Offset is the first byte to read.
	Offset int64
	// Length < 0 reads to the end.
	Length int64
}

// PutOptions tune Put.
type PutOptions struct {
	// ContentType is stored with the object; "" means application/octet-stream.
	ContentType string
}

// ResponseHeaders override the headers of the answer to a presigned GET
// (PresignGetWith).
type ResponseHeaders struct {
	// ContentType replaces the stored content type in the answer ("" keeps
	// it). It must be printable ASCII, as PutOptions.ContentType.
	ContentType string
	// ContentDisposition is sent as the answer's Content-Disposition, e.g.
	// `attachment; filename="app.bin"` ("" sends none). Printable ASCII.
	ContentDisposition string
}

// ListPage is one page of List.
type ListPage struct {
	// Objects are in key order.
	Objects []Info
	// Truncated says more keys follow: list again with the last key as
	// startAfter.
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
	PresignGetWith(ctx context.Context, key string, ttl time.Duration, h ResponseHeaders) (string, error)
}
