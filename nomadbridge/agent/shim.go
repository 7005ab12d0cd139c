package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/runner"
)

// The `circleci` command inside a job is a shim: a link named circleci to
// Config.Shim (the orbit binary, which dispatches on its name) in a bin
// directory at the front of PATH. It talks to the agent through files in
// the task data directory, named by CIRCLE_INTERNAL_TASK_DATA as on
// CircleCI, and never holds the task token:
//
//	timings.json   written by the agent before the first step: the timings
//	               of the job's last run (runner.Timings), for
//	               `circleci tests split --split-by=timings`
//	halt           created by `circleci step halt`: the agent runs no
//	               further step and the task succeeds
const (
	// EnvTaskData names the task data directory.
	EnvTaskData = "CIRCLE_INTERNAL_TASK_DATA"
	// TimingsFile and HaltFile are the files in it.
	TimingsFile = "timings.json"
	HaltFile    = "halt"
	// ShimName is the shim's command name.
	ShimName = "circleci"
)

// installShim links the shim into the bin directory.
func (r *taskRun) installShim() error {
	link := filepath.Join(r.bin, ShimName)
	_ = os.Remove(link)
	if err := os.Symlink(r.cfg.Shim, link); err != nil {
		return fmt.Errorf("agent: install the circleci shim: %w", err)
	}
	return nil
}

// withShim puts the bin directory first in PATH and names the task data
// directory.
func (r *taskRun) withShim(env []string) []string {
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	if path != "" {
		path = r.bin + string(os.PathListSeparator) + path
	} else {
		path = r.bin
	}
	return mergeEnv(env, []runner.EnvVar{{Name: "PATH", Value: path}, {Name: EnvTaskData, Value: r.taskData}})
}

// fetchTimings writes the job's last timings for the shim. Without them
// `circleci tests split --split-by=timings` falls back to splitting by
// name, as on CircleCI, so a failure here is only logged.
func (r *taskRun) fetchTimings() {
	t, err := r.files.Timings(r.ctx)
	if err != nil {
		if !errors.Is(err, runner.ErrNotImplemented) {
			r.log.Warn("cannot fetch test timings; tests split by name instead", "error", err)
		}
		return
	}
	b, err := json.Marshal(t)
	if err == nil {
		err = os.WriteFile(filepath.Join(r.taskData, TimingsFile), b, 0o644)
	}
	if err != nil {
		r.log.Warn("cannot write test timings", "error", err)
	}
}

// halted reports whether a step ran `circleci step halt`.
func (r *taskRun) halted() bool {
	_, err := os.Stat(filepath.Join(r.taskData, HaltFile))
	return err == nil
}
