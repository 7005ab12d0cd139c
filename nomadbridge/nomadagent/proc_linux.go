package nomadagent

import "syscall"

// sysProcAttr asks the kernel to SIGTERM the agent when its parent dies.
func sysProcAttr(dieWithParent bool) *syscall.SysProcAttr {
	if !dieWithParent {
		return nil
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
