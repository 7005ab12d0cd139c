package nomadagent

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// adoptOrphans makes this process the subreaper of its descendants: when
// the agent dies, its logmon and executor plugins (executors run in their
// own session) are re-parented to this process instead of init, where
// reapOrphans finds them.
func adoptOrphans() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// reapOrphans kills what a dead agent left behind and this process adopted:
// its Nomad plugins (the nomad binary: logmon, executor) and its tasks
// (their environment names an allocation directory under dataDir), each
// with its process group. Killing an executor orphans its task in turn, so
// it looks again until nothing is left or the deadline passes. It returns
// how many processes it killed.
func reapOrphans(nomadExe, dataDir string, deadline time.Duration) int {
	me := os.Getpid()
	killed := 0
	end := time.Now().Add(deadline)
	for {
		var found []int
		for _, pid := range childrenOf(me) {
			live.Lock()
			running := live.pids[pid]
			live.Unlock()
			if !running && isAgentLeftover(pid, nomadExe, dataDir) {
				found = append(found, pid)
			}
		}
		if len(found) == 0 || time.Now().After(end) {
			return killed
		}
		for _, pid := range found {
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed++
		}
		for _, pid := range found {
			// They are this process's children now: wait, or they stay
			// zombies.
			var ws unix.WaitStatus
			for time.Now().Before(end) {
				if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid || err != nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}

// childrenOf lists the processes whose parent is ppid.
func childrenOf(ppid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 {
			if p, err := strconv.Atoi(f[1]); err == nil && p == ppid {
				out = append(out, pid)
			}
		}
	}
	return out
}

// isAgentLeftover says whether pid is a Nomad plugin process or a task of
// an agent whose data is under dataDir.
func isAgentLeftover(pid int, nomadExe, dataDir string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil && nomadExe != "" && exe == nomadExe {
		return true
	}
	env, err := os.ReadFile(filepath.Join(dir, "environ"))
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("NOMAD_ALLOC_DIR=")); ok && strings.HasPrefix(string(v), dataDir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// unmountUnder detaches what a dead agent left mounted under dir (as root,
// Nomad mounts each task's secrets directory as a tmpfs): otherwise the
// directory cannot be removed.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+string(filepath.Separator)) {
			points = append(points, f[4])
		}
	}
	// Deepest first.
	for i := len(points) - 1; i >= 0; i-- {
		_ = unix.Unmount(points[i], unix.MNT_DETACH)
	}
}
