// Package blobrules holds the rules of the blob port that every driver
// checks the same way: valid keys, content types and presign lifetimes.
package blobrules

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orbit-ci/orbit/shared/blob"
)

const (
	// MaxKeyBytes is the longest key, as S3.
	MaxKeyBytes = 1024
	// MaxContentTypeBytes bounds a content type, which travels as an HTTP
	// header.
	MaxContentTypeBytes = 1024
	// DefaultContentType is what Put stores when PutOptions.ContentType is "".
	DefaultContentType = "application/octet-stream"
	// MinPresignTTL and MaxPresignTTL bound PresignGet's ttl (SigV4's limits).
	MinPresignTTL = time.Second
	// MaxPresignTTL is SigV4's longest presign lifetime.
	MaxPresignTTL = 7 * 24 * time.Hour
	// MaxList is the most objects one List returns.
	MaxList = 1000
)

// CheckKey returns an error matching blob.ErrInvalidKey unless key is valid
// under the port's contract.
func CheckKey(key string) error {
	var why string
	switch {
	case key == "":
		why = "empty"
	case len(key) > MaxKeyBytes:
		why = fmt.Sprintf("%d bytes, more than %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		why = "not UTF-8"
	case strings.HasPrefix(key, "/"):
		why = `starts with "/"`
	case strings.Contains(key, ".."):
		why = `contains ".."`
	case strings.ContainsRune(key, 0):
		why = "contains NUL"
	case strings.ContainsRune(key, '\\'):
		why = "contains a backslash"
	default:
		return nil
	}
	return fmt.Errorf("%w %.80q: %s", blob.ErrInvalidKey, key, why)
}

// ContentType returns the content type to store for ct, or an error when it
// cannot travel as an HTTP header value.
func ContentType(ct string) (string, error) {
	if ct == "" {
		return DefaultContentType, nil
	}
	if err := headerValue("content type", ct); err != nil {
		return "", err
	}
	return ct, nil
}

// headerValue checks that v can travel as an HTTP header value.
func headerValue(what, v string) error {
	if len(v) > MaxContentTypeBytes {
		return fmt.Errorf("%s is %d bytes, more than %d", what, len(v), MaxContentTypeBytes)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%s %q has a byte outside printable ASCII", what, v)
		}
	}
	return nil
}

// ResponseHeaders checks the overrides of a presigned GET: each set field
// must be a header value of printable ASCII, at most MaxContentTypeBytes.
func ResponseHeaders(h blob.ResponseHeaders) error {
	if err := headerValue("response content type", h.ContentType); err != nil {
		return err
	}
	return headerValue("response content disposition", h.ContentDisposition)
}

// CheckTTL checks a presign lifetime.
func CheckTTL(ttl time.Duration) error {
	if ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return fmt.Errorf("presign ttl %s is outside %s..%s", ttl, MinPresignTTL, MaxPresignTTL)
	}
	return nil
}

// Limit returns List's page size for limit: 0 or less, or more than
// MaxList, means MaxList.
func Limit(limit int) int {
	if limit <= 0 || limit > MaxList {
		return MaxList
	}
	return limit
}
