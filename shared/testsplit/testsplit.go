// Package testsplit divides a list of tests (usually file names) among the
// parallel nodes of a job, as `circleci tests split` does. Every node runs
// the same deterministic computation on the same list and keeps its share,
// so together the nodes run each test exactly once.
//
//	ByName     sort the names, deal them out round-robin
//	ByWeight   longest-processing-time first: heaviest item to the node
//	           with the least total weight so far (timings or file sizes);
//	           items without a weight count as the mean of the known ones
//
// A node's share keeps the order of the input list.
package testsplit

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Check validates a node index and total.
func Check(index, total int) error {
	if total < 1 || index < 0 || index >= total {
		return fmt.Errorf("node index %d is outside 0..%d (total %d)", index, total-1, total)
	}
	return nil
}

// ByName deals the sorted names out round-robin and returns node index's
// share, in input order.
func ByName(names []string, index, total int) []string {
	sorted := slices.Clone(names)
	sort.Strings(sorted)
	mine := map[string]int{}
	for i, n := range sorted {
		if i%total == index {
			mine[n]++
		}
	}
	return keep(names, mine)
}

// Weight gives an item's weight (seconds of run time, bytes); ok is false
// when the item has none.
type Weight func(name string) (w float64, ok bool)

// ByWeight balances the total weight of the nodes and returns node index's
// share, in input order, and the items that had no weight (for the "no
// timing found" notes).
func ByWeight(names []string, weight Weight, index, total int) (share, unknown []string) {
	type item struct {
		name string
		w    float64
	}
	var items []item
	var known []float64
	for _, n := range names {
		w, ok := weight(n)
		if !ok || w < 0 {
			unknown = append(unknown, n)
			items = append(items, item{n, -1})
			continue
		}
		known = append(known, w)
		items = append(items, item{n, w})
	}
	def := 1.0
	if len(known) > 0 {
		def = 0
		for _, w := range known {
			def += w
		}
		def /= float64(len(known))
	}
	for i := range items {
		if items[i].w < 0 {
			items[i].w = def
		}
	}
	sort.SliceStable(items, func(a, b int) bool {
		if items[a].w != items[b].w {
			return items[a].w > items[b].w
		}
		return items[a].name < items[b].name
	})
	loads := make([]float64, total)
	mine := map[string]int{}
	for _, it := range items {
		best := 0
		for n := 1; n < total; n++ {
			if loads[n] < loads[best] {
				best = n
			}
		}
		loads[best] += it.w
		if best == index {
			mine[it.name]++
		}
	}
	return keep(names, mine), unknown
}

// keep returns the names counted in mine, in input order.
func keep(names []string, mine map[string]int) []string {
	out := []string{}
	for _, n := range names {
		if mine[n] > 0 {
			mine[n]--
			out = append(out, n)
		}
	}
	return out
}

// NormalizeFile makes file names from test reports and from globs
// comparable: slash-separated, cleaned, without a leading "./".
func NormalizeFile(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	return strings.TrimPrefix(path.Clean(name), "./")
}
