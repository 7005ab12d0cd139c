package agent

import (
	"encoding/json"
	"fmt"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
)

// testBatch is how many tests go in one POST.
const testBatch = 2000

// batchEnvelope is the JSON around a batch's tests: {"tests":[…]}.
const batchEnvelope = len(`{"tests":[]}`)

// splitTests cuts tests into the batches store_test_results POSTs, in
// order: at most maxItems tests whose TestBatch body is at most maxBytes of
// JSON, the runner API's bounds (runner.MaxTestBatchBytes: in AWS each
// batch is one api Lambda request). A test too large for any batch alone is
// left out and named in skipped, so that one test cannot lose the others.
// At least one batch is returned (an empty one for no tests), so that a
// step without tests still records that it ran.
func splitTests(tests []junit.Test, maxItems, maxBytes int) (batches [][]junit.Test, skipped []string, err error) {
	var cur []junit.Test
	size := batchEnvelope
	for _, t := range tests {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, nil, fmt.Errorf("encode test %s: %w", t.Name, err)
		}
		n := len(b) + 1 // and a comma
		if batchEnvelope+n > maxBytes {
			skipped = append(skipped, fmt.Sprintf("%s (%s): %d bytes of JSON", t.Name, t.Classname, len(b)))
			continue
		}
		if len(cur) == maxItems || size+n > maxBytes {
			batches = append(batches, cur)
			cur, size = nil, batchEnvelope
		}
		cur = append(cur, t)
		size += n
	}
	if len(cur) > 0 || len(batches) == 0 {
		batches = append(batches, cur)
	}
	return batches, skipped, nil
}

// sendTests POSTs step i's tests as batches 0, 1, …, warning on out about
// any test too large to send.
func (r *taskRun) sendTests(i int, tests []junit.Test, warn func(format string, args ...any)) error {
	batches, skipped, err := splitTests(tests, testBatch, runner.MaxTestBatchBytes)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		warn("Warning: skipping test %s, more than the %d bytes a batch holds\n", s, runner.MaxTestBatchBytes)
	}
	for seq, batch := range batches {
		if batch == nil {
			batch = []junit.Test{}
		}
		if err := r.files.StoreTests(r.ctx, i, seq, runner.TestBatch{Tests: batch}); err != nil {
			return err
		}
	}
	return nil
}
