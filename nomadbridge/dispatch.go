package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// runnerCheckTimeout bounds the "is the task already terminal?" question;
// when the runner API does not answer in time the task is registered anyway
// (its agent stops at GET /task if it is over).
const runnerCheckTimeout = 10 * time.Second

// taskAttrs are the log attributes of a task.
func taskAttrs(m runqueue.Message) []any {
	return []any{"pipeline_id", m.PipelineID, "workflow_id", m.WorkflowID, "job_id", m.JobID,
		"task_index", m.Index, "task_id", m.TaskID}
}

// receiveBatch is how many messages one receive asks for (SQS's maximum).
const receiveBatch = 10

// receiveLoop receives messages in batches and hands them to the dispatch
// workers through work, one at a time, until ctx ends. It receives again
// only once the workers have taken the batch, so a received message waits
// at most one batch's dispatch before its visibility starts to matter.
func (b *Bridge) receiveLoop(ctx context.Context, work chan<- queue.Message) {
	defer close(work)
	wait := b.cfg.MinBackoff
	for ctx.Err() == nil {
		msgs, err := b.cfg.Queue.Receive(ctx, queue.ReceiveOptions{
			Max: min(receiveBatch, b.cfg.Concurrency), Wait: b.cfg.ReceiveWait, Visibility: b.cfg.Visibility,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.log.Error("receive from the run queue", "error", err, "retry_in", wait)
			if !b.sleep(ctx, wait) {
				return
			}
			wait = b.nextBackoff(wait)
			continue
		}
		wait = b.cfg.MinBackoff
		for _, m := range msgs {
			select {
			case work <- m:
			case <-ctx.Done():
				return // left invisible: redelivered after its visibility timeout
			}
		}
	}
}

// dispatchLoop dispatches received messages until work is closed.
func (b *Bridge) dispatchLoop(ctx context.Context, work <-chan queue.Message) {
	for m := range work {
		b.process(ctx, m)
	}
}

// process dispatches one message, retrying in place (the message kept
// invisible with Extend, so its receive count does not grow) until it is
// handled or ctx ends. On shutdown the message is simply left: it becomes
// visible again after its visibility timeout.
func (b *Bridge) process(ctx context.Context, m queue.Message) {
	b.stats.received.Add(1)
	wait := b.cfg.MinBackoff
	var told time.Time // the Nomad outage the task was told about
	for attempt := 1; ; attempt++ {
		log, err := b.dispatch(ctx, m)
		if err == nil || ctx.Err() != nil {
			return
		}
		var ne *NomadError
		if errors.As(err, &ne) {
			b.stats.nomadErrors.Add(1)
		}
		log.Error("cannot dispatch the task; keeping its message and retrying",
			"error", err, "attempt", attempt, "retry_in", wait)
		ectx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
		xerr := b.cfg.Queue.Extend(ectx, m.Receipt, wait+b.cfg.Visibility)
		cancel()
		if errors.Is(xerr, queue.ErrReceiptInvalid) {
			log.Warn("the message's receipt expired; it will be redelivered")
			return
		} else if xerr != nil && ctx.Err() == nil {
			log.Warn("extend the message's visibility", "error", xerr)
		}
		// Capped, and cut short when Nomad answers again (waiting.go):
		// held messages go out within seconds of Nomad's return.
		if !b.holdForNomad(ctx, log, m, err, wait, &told) {
			return
		}
		wait = min(b.nextBackoff(wait), maxDispatchBackoff)
	}
}

// dispatch handles one delivery. A nil error means the message was dealt
// with (and deleted, or its deletion failed harmlessly); an error means it
// must be kept and retried. The logger carries the task's ids.
func (b *Bridge) dispatch(ctx context.Context, m queue.Message) (*slog.Logger, error) {
	log := b.log.With("message_id", m.ID)
	msg, err := runqueue.Decode(m.Body)
	if err != nil {
		b.stats.malformed.Add(1)
		log.Error("malformed run-queue message: deleting it", "receive_count", m.ReceiveCount,
			"size", len(m.Body), "error", err)
		b.delete(ctx, log, m)
		return log, nil
	}
	log = log.With(taskAttrs(msg)...)
	rep := b.cfg.RunnerClient(msg.Token)

	cctx, cancel := context.WithTimeout(ctx, runnerCheckTimeout)
	place, err := rep.Placement(cctx)
	cancel()
	switch {
	case errors.Is(err, runner.ErrTaskGone):
		b.stats.terminal.Add(1)
		log.Info("task is already terminal: dropping its message")
		b.delete(ctx, log, m)
		return log, nil
	case err != nil && ctx.Err() != nil:
		return log, ctx.Err()
	case err != nil:
		log.Warn("cannot ask the runner API whether the task is terminal; dispatching it anyway", "error", err)
	}

	// A warm agent has no SSH port: a rerun with SSH goes cold; nor a
	// remote Docker engine's client certificate.
	if !place.SSH && (place.RemoteDocker == nil || b.cfg.Pool == nil) {
		if handled, err := b.dispatchWarm(ctx, log, m, msg); handled || err != nil {
			return log, err
		}
	}
	if b.cfg.Pool != nil && needsVM(msg.Executor) {
		return b.leaseVM(ctx, log, m, msg, rep, place)
	}

	var dockerEnv map[string]string
	if b.cfg.Pool != nil && place.RemoteDocker != nil {
		var ok bool
		if dockerEnv, ok, err = b.remoteDocker(ctx, log, m, msg, rep, place.RemoteDocker); !ok {
			return log, err
		}
	}

	job, err := BuildJob(b.jobSpec, msg, place)
	if errors.Is(err, ErrUnknownResourceClass) {
		res := runner.TaskResult{Status: runner.StatusInfrastructureFail, Message: "cannot run the task: " + err.Error()}
		if ferr := rep.Finish(ctx, res); ferr != nil && !errors.Is(ferr, runner.ErrTaskGone) {
			return log, fmt.Errorf("report unplaceable task: %w", ferr)
		}
		b.stats.unplaceable.Add(1)
		log.Error("task cannot be placed: reported infrastructure_fail", "error", err)
		b.delete(ctx, log, m)
		return log, nil
	} else if err != nil {
		return log, fmt.Errorf("build Nomad job: %w", err)
	}
	maps.Copy(job.TaskGroups[0].Tasks[0].Env, dockerEnv) // the agent's task
	id := *job.ID
	log = log.With("nomad_job_id", id)

	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	// Register only if Nomad has no such job: one round trip in the
	// common case. A job that exists is a redelivery (same task: done) or
	// the leftover of another task with the same ID (replaced).
	_, _, err = b.cfg.Nomad.Jobs.EnforceRegister(job, 0, b.writeOpts(nctx))
	if err != nil && strings.Contains(err.Error(), api.RegisterEnforceIndexErrPrefix) {
		existing, _, ierr := b.cfg.Nomad.Jobs.Info(id, b.queryOpts(nctx))
		switch {
		case ierr == nil && existing != nil && existing.Meta[MetaTaskID] == msg.TaskID:
			b.stats.duplicates.Add(1)
			log.Info("Nomad already has the task's job: duplicate message")
			b.dockerCAs.Delete(msg.TaskID)
			b.delete(ctx, log, m)
			return log, nil
		case ierr == nil && existing != nil:
			log.Warn("replacing a Nomad job that ran another task", "other_task_id", existing.Meta[MetaTaskID])
		case ierr != nil && !isNotFound(ierr):
			return log, b.nomadErr("look up job "+id, ierr)
		}
		_, _, err = b.cfg.Nomad.Jobs.Register(job, b.writeOpts(nctx))
	}
	if err != nil {
		return log, b.nomadErr("register job "+id, err)
	}
	b.stats.registered.Add(1)
	b.dockerCAs.Delete(msg.TaskID)
	class := job.TaskGroups[0].Tasks[0].Meta["orbit_resource_class"]
	log.Info("task registered with Nomad", "resource_class", class, "driver", b.cfg.Driver,
		"receive_count", m.ReceiveCount)
	b.expectJob(&trackedJob{id: id, log: log, reporter: rep, class: class})
	b.delete(ctx, log, m)
	return log, nil
}

func (b *Bridge) delete(ctx context.Context, log *slog.Logger, m queue.Message) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nomadCallTimeout)
	defer cancel()
	if err := b.cfg.Queue.Delete(dctx, m.Receipt); err != nil {
		log.Warn("delete run-queue message (it will be redelivered, and found already handled)", "error", err)
	}
}
