package sqsrules

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCheckBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{name: "JSON", body: `{"a":1}`, ok: true},
		{name: "tab, newline, CR", body: "a\tb\nc\r", ok: true},
		{name: "astral plane", body: "🚀", ok: true},
		{name: "largest", body: strings.Repeat("x", MaxBodyBytes), ok: true},
		{name: "empty"},
		{name: "too large", body: strings.Repeat("x", MaxBodyBytes+1)},
		{name: "control character", body: "a\x01b"},
		{name: "U+FFFE", body: "a\uFFFEb"},
		{name: "invalid UTF-8", body: "a\xc3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckBody([]byte(tc.body))
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidBody)
			}
		})
	}
}

func TestSecondsRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int32{
		0: 0, -time.Second: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 20 * time.Second: 20,
	} {
		assert.Equal(t, want, Seconds(d), "%s", d)
	}
}

func TestClamps(t *testing.T) {
	assert.Equal(t, 1, Batch(0))
	assert.Equal(t, 1, Batch(-3))
	assert.Equal(t, 7, Batch(7))
	assert.Equal(t, MaxBatch, Batch(11))
	assert.Equal(t, time.Duration(0), Wait(-time.Second))
	assert.Equal(t, MaxWait, Wait(time.Minute))
	assert.NoError(t, CheckDelay(MaxDelay))
	assert.Error(t, CheckDelay(MaxDelay+time.Second))
	assert.Error(t, CheckDelay(-time.Second))
}
