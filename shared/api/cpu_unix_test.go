//go:build unix

package api_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system: what
// a page costs whatever the wait for a core on a loaded machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
