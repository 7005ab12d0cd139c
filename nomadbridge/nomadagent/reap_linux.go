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
// with everything below it (a task's steps run in process groups of their
// own). The processes it kills are re-parented to this process as their
// parents die, so it waits for each, or they would stay zombies. It returns
// how many processes it killed.
func reapOrphans(nomadExe, dataDir string, deadline time.Duration) int {
	me := os.Getpid()
	end := time.Now().Add(deadline)
	killed := map[int]bool{}
	for {
		tree := parents()
		pending := false
		for _, pid := range tree[me] {
			live.Lock()
			running := live.pids[pid]
			live.Unlock()
			switch {
			case running:
			case killed[pid]:
				// Ours to wait for now.
				var ws unix.WaitStatus
				if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got != pid && err == nil {
					pending = true
				}
			case isAgentLeftover(pid, nomadExe, dataDir):
				// The whole tree at once, so that nothing below is
				// orphaned alive.
				for _, p := range append(below(tree, pid), pid) {
					_ = syscall.Kill(p, syscall.SIGKILL)
					killed[p] = true
				}
				pending = true
			}
		}
		if !pending || time.Now().After(end) {
			return len(killed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Descendants lists the processes below pid (children first), from /proc:
// what a dead agent must not leave behind.
func Descendants(pid int) []int { return below(parents(), pid) }

// below lists the processes under pid in tree (parent → children).
func below(tree map[int][]int, pid int) []int {
	var out []int
	for next := tree[pid]; len(next) > 0; {
		p := next[0]
		next = append(next[1:], tree[p]...)
		out = append(out, p)
	}
	return out
}

// parents maps each parent pid to its children's, from /proc.
func parents() map[int][]int {
	tree := map[int][]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return tree
	}
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
			if p, err := strconv.Atoi(f[1]); err == nil {
				tree[p] = append(tree[p], pid)
			}
		}
	}
	return tree
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
