package nomadbridge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWatchIndex(t *testing.T) {
	const wait = time.Minute
	type answer struct {
		got  uint64
		took time.Duration
		fail bool
	}
	type want struct {
		index uint64
		pause time.Duration
		reset bool
	}
	tests := []struct {
		name    string
		answers []answer
		want    []want
	}{
		{
			name:    "an empty table (index 0) still blocks",
			answers: []answer{{got: 0}, {got: 0, took: wait}, {got: 0, took: wait}},
			want:    []want{{index: 1}, {index: 1}, {index: 1}},
		},
		{
			name:    "the index follows Nomad's",
			answers: []answer{{got: 7}, {got: 9, took: time.Second}, {got: 9, took: wait}},
			want:    []want{{index: 7}, {index: 9}, {index: 9}},
		},
		{
			name:    "an index that goes backwards is taken as the new state",
			answers: []answer{{got: 50}, {got: 3, took: wait}, {got: 4, took: time.Second}},
			want:    []want{{index: 50}, {index: 3, reset: true}, {index: 4}},
		},
		{
			name: "early answers without news pause, doubling up to the max, reset by news",
			answers: []answer{{got: 5}, {got: 5}, {got: 5}, {got: 5}, {got: 5}, {got: 6},
				{got: 6}},
			want: []want{{index: 5}, {index: 5, pause: time.Second}, {index: 5, pause: 2 * time.Second},
				{index: 5, pause: 4 * time.Second}, {index: 5, pause: 4 * time.Second}, {index: 6},
				{index: 6, pause: time.Second}},
		},
		{
			name: "a failure lists from 0 after a bounded backoff",
			answers: []answer{{got: 5}, {fail: true}, {fail: true}, {fail: true}, {fail: true},
				{got: 8}, {got: 8, took: wait}},
			want: []want{{index: 5}, {pause: time.Second}, {pause: 2 * time.Second},
				{pause: 4 * time.Second}, {pause: 4 * time.Second}, {index: 8}, {index: 8}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWatchIndex(time.Second, 4*time.Second)
			assert.Zero(t, w.next(), "the first query is the reconciliation: it does not block")
			for i, a := range tt.answers {
				var got want
				if a.fail {
					got.pause = w.failed()
				} else {
					got.pause, got.reset = w.answered(a.got, a.took, wait)
				}
				got.index = w.next()
				assert.Equal(t, tt.want[i], got, "answer %d", i)
				if i > 0 && !a.fail {
					assert.NotZero(t, w.next(), "a query after an answer always blocks")
				}
			}
		})
	}
}
