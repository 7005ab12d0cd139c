package store

import (
	"errors"
	"fmt"

	"github.com/orbit-ci/orbit/shared/kv"
)

func isConflict(err error) bool {
	return errors.Is(err, kv.ErrConflict) || errors.Is(err, ErrExists)
}

func isStale(err error) bool { return errors.Is(err, ErrStale) }

// TooLargeError: a record is larger than the store keeps. It is permanent:
// writing the same record again fails the same way (find it with
// errors.As).
type TooLargeError struct {
	// What names the record.
	What string
	// Size and Limit are in bytes, as stored.
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %s stored; the limit is %s", e.What, Size(e.Size), Size(e.Limit))
}

// Size formats a byte count for people: "812 B", "256 KiB", "10.0 MB".
func Size(n int) string {
	switch {
	case n >= 1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1024 && n%1024 == 0:
		return fmt.Sprintf("%d KiB", n/1024)
	case n >= 1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
