//go:build !linux

package nomadagent

import "time"

// adoptOrphans: only Linux has child subreapers; elsewhere a dead agent's
// plugins are left to the system.
func adoptOrphans() error { return nil }

func reapOrphans(string, string, time.Duration) int { return 0 }

func unmountUnder(string) {}

// Descendants: only Linux is supported.
func Descendants(int) []int { return nil }
