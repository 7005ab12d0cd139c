// Package sqsrules holds the limits SQS imposes on messages and calls, shared
// by every queue driver so that the embedded driver refuses exactly what SQS
// would refuse and clamps exactly as the SQS driver does.
package sqsrules

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

const (
	// MaxBodyBytes is the largest body Send accepts: SQS's historical
	// MaximumMessageSize, which every queue supports.
	MaxBodyBytes = 256 * 1024
	// MaxDelay is the longest send delay (SQS DelaySeconds ≤ 900).
	MaxDelay = 15 * time.Minute
	// MaxWait is the longest long-poll (SQS WaitTimeSeconds ≤ 20).
	MaxWait = 20 * time.Second
	// MaxBatch is the most messages one Receive returns.
	MaxBatch = 10
	// MaxVisibility is the longest visibility timeout (SQS: 12 hours).
	MaxVisibility = 12 * time.Hour
)

// ErrInvalidBody means a body SQS would not accept.
var ErrInvalidBody = errors.New("invalid message body")

// CheckBody reports whether SQS accepts body: 1..MaxBodyBytes bytes of UTF-8
// made only of #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF.
func CheckBody(body []byte) error {
	switch {
	case len(body) == 0:
		return fmt.Errorf("%w: empty", ErrInvalidBody)
	case len(body) > MaxBodyBytes:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidBody, len(body), MaxBodyBytes)
	}
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrInvalidBody, i)
		}
		if !allowedRune(r) {
			return fmt.Errorf("%w: character %U at byte %d is not allowed by SQS", ErrInvalidBody, r, i)
		}
		i += size
	}
	return nil
}

func allowedRune(r rune) bool {
	switch {
	case r == 0x9, r == 0xA, r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// CheckDelay reports whether d is a valid send delay (0..MaxDelay).
func CheckDelay(d time.Duration) error {
	if d < 0 || d > MaxDelay {
		return fmt.Errorf("send delay %s is outside 0..%s", d, MaxDelay)
	}
	return nil
}

// CheckVisibility reports whether d is a valid visibility timeout
// (0..MaxVisibility).
func CheckVisibility(d time.Duration) error {
	if d < 0 || d > MaxVisibility {
		return fmt.Errorf("visibility timeout %s is outside 0..%s", d, MaxVisibility)
	}
	return nil
}

// Batch returns how many messages a Receive with ReceiveOptions.Max = max
// returns at most: 0 (or less) means 1, more than MaxBatch means MaxBatch.
func Batch(max int) int {
	switch {
	case max < 1:
		return 1
	case max > MaxBatch:
		return MaxBatch
	}
	return max
}

// Wait clamps a long-poll time to 0..MaxWait.
func Wait(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > MaxWait:
		return MaxWait
	}
	return d
}

// Seconds rounds d up to whole seconds, as SQS counts them.
func Seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32((d + time.Second - 1) / time.Second)
}
