package testsplit_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testsplit"
)

// union checks that the shares of all nodes partition names.
func union(t *testing.T, names []string, share func(i int) []string, total int) [][]string {
	t.Helper()
	var all []string
	var shares [][]string
	for i := range total {
		s := share(i)
		shares = append(shares, s)
		all = append(all, s...)
	}
	want := slices.Clone(names)
	sort.Strings(want)
	sort.Strings(all)
	require.Equal(t, want, all)
	return shares
}

func TestByName(t *testing.T) {
	names := []string{"d.go", "a.go", "c.go", "b.go", "e.go"}
	shares := union(t, names, func(i int) []string { return testsplit.ByName(names, i, 2) }, 2)
	assert.Equal(t, []string{"a.go", "c.go", "e.go"}, shares[0])
	assert.Equal(t, []string{"d.go", "b.go"}, shares[1], "input order kept")
	assert.Equal(t, []string{}, testsplit.ByName(nil, 0, 3))
}

func TestByWeight(t *testing.T) {
	times := map[string]float64{"slow": 10, "mid": 6, "fast1": 2, "fast2": 2, "fast3": 1}
	weight := func(n string) (float64, bool) { w, ok := times[n]; return w, ok }
	tests := []struct {
		name    string
		names   []string
		total   int
		want    [][]string
		unknown []string
	}{
		{
			name:  "balanced",
			names: []string{"fast1", "slow", "fast2", "mid", "fast3"},
			total: 2,
			want:  [][]string{{"slow", "fast3"}, {"fast1", "fast2", "mid"}},
		},
		{
			name:    "unknown get the mean",
			names:   []string{"new", "slow", "mid"},
			total:   3,
			want:    [][]string{{"slow"}, {"new"}, {"mid"}},
			unknown: []string{"new"},
		},
		{
			name:  "more nodes than items",
			names: []string{"slow"},
			total: 3,
			want:  [][]string{{"slow"}, {}, {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var unknown []string
			shares := union(t, tt.names, func(i int) []string {
				s, u := testsplit.ByWeight(tt.names, weight, i, tt.total)
				unknown = u
				return s
			}, tt.total)
			assert.Equal(t, tt.want, shares)
			assert.Equal(t, tt.unknown, unknown)
		})
	}
}

func TestByWeightBalancesManyFiles(t *testing.T) {
	var names []string
	for i := range 60 {
		names = append(names, fmt.Sprintf("f%02d", i))
	}
	weight := func(n string) (float64, bool) { var i int; fmt.Sscanf(n, "f%d", &i); return float64(i%7 + 1), true }
	loads := make([]float64, 3)
	union(t, names, func(i int) []string {
		s, _ := testsplit.ByWeight(names, weight, i, 3)
		for _, n := range s {
			w, _ := weight(n)
			loads[i] += w
		}
		return s
	}, 3)
	assert.InDelta(t, loads[0], loads[1], 7)
	assert.InDelta(t, loads[1], loads[2], 7)
}

func TestCheckAndNormalize(t *testing.T) {
	assert.NoError(t, testsplit.Check(0, 1))
	assert.Error(t, testsplit.Check(3, 3))
	assert.Error(t, testsplit.Check(0, 0))
	assert.Equal(t, "a/b_test.go", testsplit.NormalizeFile("./a//b_test.go"))
	assert.Equal(t, "a/b.rb", testsplit.NormalizeFile(`a\b.rb`))
}
