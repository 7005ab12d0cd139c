package nomadbridge

import (
	"context"
	"errors"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/runner"
)

// VMTaskEnded reports whether the task of a VM lease is over, for the VM
// pool's garbage collector (ec2pool.TaskEnded): the runner API answers 410
// for a terminal task's token. A lease of another installation (another
// runner URL) or without a token is not this bridge's to judge: not ended.
func (b *Bridge) VMTaskEnded(ctx context.Context, l vmpool.Lease) (bool, error) {
	r := l.Request
	tok := r.Env[agent.EnvTaskToken]
	if tok == "" || r.Env[agent.EnvRunnerURL] != b.cfg.RunnerURL {
		return false, nil
	}
	cctx, cancel := context.WithTimeout(ctx, runnerCheckTimeout)
	defer cancel()
	_, err := b.cfg.RunnerClient(tok).Placement(cctx)
	var ae *runner.APIError
	switch {
	case errors.Is(err, runner.ErrTaskGone):
		return true, nil
	case errors.As(err, &ae) && !ae.Temporary():
		// The token expired with its task (401/403): the task is over.
		return true, nil
	case err != nil:
		return false, err
	}
	return false, nil
}
