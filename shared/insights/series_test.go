package insights_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/orbit-ci/orbit/shared/insights"
)

// Series cuts runs in order of At into intervals without copying them; the
// figures must be those of runs in any order.
func TestSeriesOfOrderedRunsMatchesAnyOrder(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"success", "success", "failed", "canceled", "success"}
	var runs []insights.Run
	for i := range 500 {
		at := start.Add(time.Duration(i) * 37 * time.Minute)
		runs = append(runs, insights.Run{ID: string(rune('a' + i%26)), Workflow: "w", Branch: []string{"main", "dev"}[i%2],
			Status: statuses[i%len(statuses)], At: at, StoppedAt: at.Add(time.Duration(i%9) * time.Minute),
			Duration: float64(60 + i%9*60), Credits: float64(i % 7)})
	}
	shuffled := slices.Clone(runs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	// The shuffled runs take the general path (a map of intervals). Every
	// run stops at a different time, so mttr's order is the same in both.
	for _, step := range []time.Duration{time.Hour, 24 * time.Hour} {
		assert.Equal(t, insights.Series(shuffled, step), insights.Series(runs, step), "step %s", step)
	}
}
