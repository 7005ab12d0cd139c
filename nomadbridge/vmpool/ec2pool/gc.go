package ec2pool

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/metrics"
)

// The collector is the seed's vm-gc plus the vm-scaler's upkeep, one cycle
// every Interval:
//
//	leases whose task ended (TaskEnded) ─▶ terminated, marked released
//	leases whose VM ran longer than MaxAge ─▶ terminated, marked released
//	instances of this installation that are no lease and no warm VM (a
//	  launch cut short) older than MaxAge ─▶ terminated
//	warm VMs older than CycleAfter ─▶ terminated (daily cycling); each pool
//	  topped up to Preallocated
//	DLC volumes: free ones unused past DLC.Retention, and free ones of a
//	  project with more than DLC.MaxPerProject volumes (least recently
//	  used first) ─▶ deleted
//	network interfaces of remote Docker engines no live VM uses ─▶ deleted
//	metrics (no dimension but pool): pool sizes, VMs in use, warm VMs,
//	  stale VMs found and stopped, DLC volumes
//
// The bridge releases its leases itself; the collector catches what a
// crashed bridge or a lost release left behind.

// Metric names, in the style of the seed's nomad-metrics.
const (
	MetricPoolSize     = "circle.vm_service.pool.size" // per pool: warm + leased VMs
	MetricInUse        = "circle.vm_service.vms.in_use"
	MetricWarm         = "circle.vm_service.vms.warm"
	MetricStaleFound   = "circle.vm_service.gc.stale_found"
	MetricStaleStopped = "circle.vm_service.gc.stale_stopped"
	MetricVolumes      = "circle.vm_service.dlc.volumes"
	MetricVolumesFreed = "circle.vm_service.dlc.volumes_deleted"
)

// TaskEnded reports whether a lease's task is terminal; the bridge
// provides it (the runner API answers 410 for the task's token).
type TaskEnded func(ctx context.Context, l vmpool.Lease) (bool, error)

// CollectorConfig configures a Collector.
type CollectorConfig struct {
	// TaskEnded asks whether a lease's task is over (nil: only MaxAge
	// applies).
	TaskEnded TaskEnded
	// MaxAge is the longest a VM may run (default 6 h: past CircleCI's 5 h
	// job timeout).
	MaxAge time.Duration
	// CycleAfter replaces warm VMs older than this (default 24 h).
	CycleAfter time.Duration
	// Interval between cycles (default 1 min).
	Interval time.Duration
	// Metrics receives the collector's metrics (default: discarded).
	Metrics metrics.Sink
	// After waits for the next cycle (default time.After): tests inject a
	// clock; the pool's Config.Now is the collector's now.
	After func(time.Duration) <-chan time.Time
}

// Collector collects leaked VMs and volumes of a Pool.
type Collector struct {
	p   *Pool
	cfg CollectorConfig
}

// NewCollector returns the pool's collector.
func NewCollector(p *Pool, cfg CollectorConfig) *Collector {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 6 * time.Hour
	}
	if cfg.CycleAfter <= 0 {
		cfg.CycleAfter = 24 * time.Hour
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Discard
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	return &Collector{p: p, cfg: cfg}
}

// Report is what one cycle did.
type Report struct {
	// Stale lists the leases stopped, each with why.
	Stale map[string]string
	// Orphans are instances terminated that were no lease.
	Orphans []string
	// Cycled are warm VMs replaced for age; Launched the warm VMs started.
	Cycled   []string
	Launched int
	// VolumesDeleted are DLC volumes deleted.
	VolumesDeleted []string
	// Interfaces are network interfaces deleted (remote Docker engines'
	// left by their VMs: remotedocker.go).
	Interfaces []string
}

// Run runs a cycle every Interval until ctx ends; a failed cycle is logged
// and the next one tries again.
func (c *Collector) Run(ctx context.Context) error {
	for {
		if _, err := c.Collect(ctx); err != nil && ctx.Err() == nil {
			c.p.cfg.Logger.Error("vm-gc cycle failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.cfg.After(c.cfg.Interval):
		}
	}
}

// Collect runs one cycle. Its error joins every step's; the steps that
// could run did.
func (c *Collector) Collect(ctx context.Context) (Report, error) {
	rep := Report{Stale: map[string]string{}}
	errs := []error{c.leases(ctx, &rep), c.warm(ctx, &rep), c.volumes(ctx, &rep), c.interfaces(ctx, &rep)}
	return rep, errors.Join(errs...)
}

func (c *Collector) leases(ctx context.Context, rep *Report) error {
	p := c.p
	now := p.cfg.Now()
	ins, err := p.describe(ctx)
	if err != nil {
		return err
	}
	inUse := 0
	size := map[string]int{}
	var errs []error
	for _, in := range ins {
		_, released := in.tags[TagReleased]
		if released || in.gone() {
			if released && !in.gone() {
				// Marked released but still running: finish the release.
				errs = append(errs, c.stop(ctx, in, "released but still running", rep))
			}
			continue
		}
		size[in.tags[TagPool]]++
		age := now.Sub(aws.ToTime(in.LaunchTime))
		if in.tags[TagTaskID] == "" {
			if in.tags[TagState] != stateWarm && age > c.cfg.MaxAge {
				rep.Orphans = append(rep.Orphans, in.id())
				errs = append(errs, c.stop(ctx, in, "", nil))
			}
			continue
		}
		inUse++
		why := ""
		switch l, err := p.lease(ctx, in); {
		case err != nil:
			errs = append(errs, err)
			continue
		case age > c.cfg.MaxAge:
			why = fmt.Sprintf("ran %s, longer than the %s limit", age.Round(time.Minute), c.cfg.MaxAge)
		case c.cfg.TaskEnded != nil:
			ended, err := c.cfg.TaskEnded(ctx, l)
			if err != nil {
				errs = append(errs, fmt.Errorf("ec2pool: is the task of %s over: %w", in.id(), err))
				continue
			}
			if ended {
				why = "its task ended"
			}
		}
		if why != "" {
			c.cfg.Metrics.Count(MetricStaleFound, 1)
			if err := c.stop(ctx, in, why, rep); err != nil {
				errs = append(errs, err)
				continue
			}
			inUse--
			size[in.tags[TagPool]]--
		}
	}
	c.cfg.Metrics.Gauge(MetricInUse, float64(inUse))
	for _, pc := range p.cfg.Pools {
		c.cfg.Metrics.Gauge(MetricPoolSize, float64(size[pc.Name]), metrics.Dimension{Name: "pool", Value: pc.Name})
	}
	return errors.Join(errs...)
}

// stop terminates a stale lease's instance; rep nil for an orphan.
func (c *Collector) stop(ctx context.Context, in instance, why string, rep *Report) error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.terminate(ctx, in, "vm-gc: "+why); err != nil {
		return err
	}
	p.cfg.Logger.Info("vm-gc stopped a VM", "lease_id", in.id(), "task_id", in.tags[TagTaskID], "reason", why)
	if rep != nil {
		rep.Stale[in.id()] = why
		c.cfg.Metrics.Count(MetricStaleStopped, 1)
	}
	return nil
}

// warm cycles old warm VMs and tops the pools up.
func (c *Collector) warm(ctx context.Context, rep *Report) error {
	p := c.p
	now := p.cfg.Now()
	var errs []error
	total := 0
	for _, pc := range p.cfg.Pools {
		if pc.Preallocated == 0 {
			continue
		}
		ws, err := p.warm(ctx, pc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n := 0
		for _, in := range ws {
			if now.Sub(aws.ToTime(in.LaunchTime)) > c.cfg.CycleAfter {
				if err := c.stop(ctx, in, "daily cycling", nil); err != nil {
					errs = append(errs, err)
				}
				rep.Cycled = append(rep.Cycled, in.id())
				continue
			}
			n++
		}
		for ; n < pc.Preallocated; n++ {
			p.mu.Lock()
			_, err := p.launchWarm(ctx, pc)
			p.mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				break
			}
			rep.Launched++
		}
		total += n
	}
	c.cfg.Metrics.Gauge(MetricWarm, float64(total))
	return errors.Join(errs...)
}

// volumes deletes free DLC volumes past retention or beyond the
// per-project bound.
func (c *Collector) volumes(ctx context.Context, rep *Report) error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	vols, err := p.volumes(ctx, "")
	if err != nil {
		return err
	}
	busy, err := p.busyVolumes(ctx)
	if err != nil {
		return err
	}
	now := p.cfg.Now()
	byProject := map[string][]volume{}
	for _, v := range vols {
		byProject[v.project] = append(byProject[v.project], v)
	}
	var errs []error
	left := len(vols)
	for _, vs := range byProject {
		sort.Slice(vs, func(i, j int) bool { return vs[i].lastUsed.After(vs[j].lastUsed) })
		kept := 0
		for _, v := range vs {
			if !v.free(busy) {
				kept++
				continue
			}
			if now.Sub(v.lastUsed) <= p.cfg.DLC.Retention && kept < p.cfg.DLC.MaxPerProject {
				kept++
				continue
			}
			_, err := p.api.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(v.id)})
			if err != nil && !notFound(err) {
				errs = append(errs, fmt.Errorf("ec2pool: delete DLC volume %s: %w", v.id, err))
				continue
			}
			p.cfg.Logger.Info("vm-gc deleted a DLC volume", "volume_id", v.id, "project", v.project, "last_used", v.lastUsed)
			rep.VolumesDeleted = append(rep.VolumesDeleted, v.id)
			c.cfg.Metrics.Count(MetricVolumesFreed, 1)
			left--
		}
	}
	c.cfg.Metrics.Gauge(MetricVolumes, float64(left))
	return errors.Join(errs...)
}
