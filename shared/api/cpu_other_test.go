//go:build !unix

package api_test

import "time"

// processCPU is unknown here: the benchmark reports 0 cpu-ms/page.
func processCPU() time.Duration { return 0 }
