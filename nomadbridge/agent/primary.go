package agent

import (
	"os"
	"os/exec"
	"strings"
)

// startPrimaryCommand honours a docker executor's primary image that
// configures a command: CircleCI then runs it (after the configured
// entrypoint) as the container's main process while the steps run beside
// it. Here the agent is the container's process, so it starts that command
// in the background, in its own process group (killed with the task's
// others at the end), with the job's environment and HOME. Its output goes
// to the agent's stderr, the allocation's log, as a container's main
// process output is not part of any step. The image's own ENTRYPOINT is
// replaced by the agent and so is not known here: configure `entrypoint`
// when the command needs it. On the host executor the image's programs are
// not there: the command is not run and the job's notices say so.
func (r *taskRun) startPrimaryCommand() {
	if r.cfg.HostDriver != "" || r.spec.Executor != "docker" || len(r.spec.Images) == 0 || len(r.spec.Images[0].Command) == 0 {
		return
	}
	img := r.spec.Images[0]
	argv := append(append([]string{}, img.Entrypoint...), img.Command...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = r.workdir
	if _, err := os.Stat(cmd.Dir); err != nil {
		cmd.Dir = r.home
	}
	cmd.Env = r.withShim(r.stepEnv())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = newProcessGroup()
	if err := cmd.Start(); err != nil {
		r.log.Warn("the primary container's command could not start", "command", strings.Join(argv, " "), "error", err)
		return
	}
	r.track(cmd.Process.Pid)
	go func() { _ = cmd.Wait() }()
	r.log.Info("primary container command started", "command", strings.Join(argv, " "), "pid", cmd.Process.Pid)
}
