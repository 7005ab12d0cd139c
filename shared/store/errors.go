package store

import (
	"errors"

	"github.com/orbit-ci/orbit/shared/kv"
)

func isConflict(err error) bool {
	return errors.Is(err, kv.ErrConflict) || errors.Is(err, ErrExists)
}

func isStale(err error) bool { return errors.Is(err, ErrStale) }
