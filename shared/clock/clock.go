// Package clock is the real time source behind the small Clock interfaces
// that packages declare for themselves (so tests can give them a fake).
package clock

import "time"

// Real is the wall clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }
