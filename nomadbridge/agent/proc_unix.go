//go:build unix

package agent

import (
	"os"
	"syscall"
)

// newProcessGroup makes a step's shell the leader of a new process group, so
// the whole tree it starts can be signaled at once.
func newProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func termGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGTERM) }

func killGroupNow(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

func signaled(ps *os.ProcessState) (int, bool) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return int(ws.Signal()), true
}
