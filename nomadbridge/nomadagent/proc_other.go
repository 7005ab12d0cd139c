//go:build !linux

package nomadagent

import "syscall"

// sysProcAttr: only Linux can tie a child's life to its parent's.
func sysProcAttr(bool) *syscall.SysProcAttr { return nil }
