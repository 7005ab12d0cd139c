package nomadbridge

import (
	"context"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/shared/metrics"
)

// JobCounts is the cluster's jobs by status, as the seed's nomad-metrics
// reports them: pending, running and dead are Nomad's job statuses;
// complete counts the dead jobs whose allocations all completed (no
// failed or lost allocation).
type JobCounts struct {
	Pending, Running, Complete, Dead int
}

// CountJobs sorts a job list into JobCounts.
func CountJobs(jobs []*api.JobListStub) JobCounts {
	var c JobCounts
	for _, j := range jobs {
		switch j.Status {
		case "pending":
			c.Pending++
		case "running":
			c.Running++
		case "dead":
			c.Dead++
			if completed(j.JobSummary) {
				c.Complete++
			}
		}
	}
	return c
}

func completed(s *api.JobSummary) bool {
	if s == nil {
		return false
	}
	done := 0
	for _, g := range s.Summary {
		if g.Failed > 0 || g.Lost > 0 {
			return false
		}
		done += g.Complete
	}
	return done > 0
}

// metricsLoop polls Nomad's job list every MetricsInterval and reports the
// seed's five Nomad metrics; a failed poll sets poll_failure to 1 and
// keeps the last counts.
func (b *Bridge) metricsLoop(ctx context.Context) {
	for {
		b.pollMetrics(ctx)
		if !b.sleep(ctx, b.cfg.MetricsInterval) {
			return
		}
	}
}

func (b *Bridge) pollMetrics(ctx context.Context) {
	m := b.cfg.Metrics
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	jobs, _, err := b.cfg.Nomad.Jobs.List(b.queryOpts(nctx))
	if err != nil {
		if ctx.Err() == nil {
			b.stats.nomadErrors.Add(1)
			b.log.Error("poll Nomad for metrics", "error", b.nomadErr("list jobs", err))
			m.Gauge(metrics.NomadPollFailure, 1)
			b.pollErr.Store(&err)
		}
		return
	}
	b.pollErr.Store(nil)
	c := CountJobs(jobs)
	m.Gauge(metrics.NomadPollFailure, 0)
	m.Gauge(metrics.NomadJobsPending, float64(c.Pending))
	m.Gauge(metrics.NomadJobsRunning, float64(c.Running))
	m.Gauge(metrics.NomadJobsComplete, float64(c.Complete))
	m.Gauge(metrics.NomadJobsDead, float64(c.Dead))
}
