// Package fakepool is an in-memory vmpool driver for tests: a pool of
// Capacity "VMs", each a goroutine that runs Config.Boot with the lease's
// request (in tests: the real build agent, in-process or as a subprocess,
// so the task really runs). Release cancels that goroutine and waits for
// it; when Boot returns on its own the VM is Stopped, as a VM that shuts
// down after its agent exits. Kill makes a VM die, for tests of lost VMs.
//
// It passes vmpooltest.Run. Like the EC2 driver it counts every unreleased
// lease against Capacity, a Stopped one included, and it reclaims expired
// leases (their VM is stopped, the lease stays until Release) whenever it
// is called.
package fakepool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// Config configures a Pool.
type Config struct {
	// Capacity is how many leases may be held at once (default 1).
	Capacity int
	// Images are the images the pool knows besides "" (the default); a
	// Lease for another answers vmpool.ErrUnknownClass.
	Images []string
	// ResourceClasses are the classes the pool knows besides "" (the
	// default, medium); a Lease for another answers ErrUnknownClass.
	ResourceClasses []string
	// PreallocatedImages are images (besides Images) whose pools are
	// preallocated: a Lease there with DockerLayerCaching answers
	// vmpool.ErrRefused, as the EC2 driver does.
	PreallocatedImages []string
	// LeaseDuration is how long a lease lives before the pool reclaims its
	// VM (default 1 h).
	LeaseDuration time.Duration
	// Boot is what a VM runs, in its own goroutine, from Lease on; ctx ends
	// when the lease is released, the VM is killed or the lease expires,
	// and Boot must then return. Its error (or nil) becomes the Stopped
	// VM's Reason. Nil: the VM idles until it is released.
	Boot func(ctx context.Context, r vmpool.Request) error
	// Now is the clock of ExpiresAt (default time.Now).
	Now func() time.Time
}

// Pool is the in-memory pool. Create it with New.
type Pool struct {
	cfg Config

	mu     sync.Mutex
	vms    map[string]*vm // unreleased leases by lease ID
	byTask map[string]string
	made   int
	// volumes are the DLC volumes by project; a volume's holder is the
	// lease ID using it ("" when free).
	volumes map[string][]*volume
	vols    int
}

type volume struct{ id, holder string }

type vm struct {
	lease  vmpool.Lease
	cancel context.CancelFunc
	done   chan struct{}
}

var _ vmpool.Pool = (*Pool)(nil)

// New returns an empty pool.
func New(cfg Config) *Pool {
	if cfg.Capacity <= 0 {
		cfg.Capacity = 1
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Pool{cfg: cfg, vms: map[string]*vm{}, byTask: map[string]string{}, volumes: map[string][]*volume{}}
}

// Lease implements vmpool.Pool.
func (p *Pool) Lease(ctx context.Context, r vmpool.Request) (vmpool.Lease, error) {
	if err := ctx.Err(); err != nil {
		return vmpool.Lease{}, err
	}
	if r.TaskID == "" {
		return vmpool.Lease{}, errors.New("fakepool: lease request without a task ID")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reclaim()
	if id, ok := p.byTask[r.TaskID]; ok {
		return p.vms[id].snapshot(), nil
	}
	prealloc := slices.Contains(p.cfg.PreallocatedImages, r.Image)
	switch {
	case r.Image != "" && !slices.Contains(p.cfg.Images, r.Image) && !prealloc:
		return vmpool.Lease{}, fmt.Errorf("%w: no image %q (known: %q)", vmpool.ErrUnknownClass, r.Image, p.cfg.Images)
	case r.ResourceClass != "" && !slices.Contains(p.cfg.ResourceClasses, r.ResourceClass):
		return vmpool.Lease{}, fmt.Errorf("%w: no resource class %q (known: %q)", vmpool.ErrUnknownClass,
			r.ResourceClass, p.cfg.ResourceClasses)
	case prealloc && r.DockerLayerCaching:
		return vmpool.Lease{}, fmt.Errorf("%w: docker_layer_caching needs on-demand VMs, but image %s is preallocated",
			vmpool.ErrRefused, r.Image)
	case len(p.vms) >= p.cfg.Capacity:
		return vmpool.Lease{}, fmt.Errorf("%w: all %d VMs are leased", vmpool.ErrUnavailable, p.cfg.Capacity)
	}
	p.made++
	id := fmt.Sprintf("fakevm-%d", p.made)
	cache := ""
	if r.DockerLayerCaching {
		cache = p.volumeFor(r.ProjectSlug, id)
	}
	r.Env, r.Meta = maps.Clone(r.Env), maps.Clone(r.Meta)
	host := id + ".fakepool.invalid"
	if r.Purpose == vmpool.RemoteDocker && r.DockerTLS != nil {
		// As a real pool: the engine's certificate names the VM's address.
		m, err := r.DockerTLS.Server(host)
		if err != nil {
			return vmpool.Lease{}, fmt.Errorf("fakepool: %w", err)
		}
		if r.Env == nil {
			r.Env = map[string]string{}
		}
		maps.Copy(r.Env, m.ServerEnv())
	}
	r.DockerTLS = nil // not kept, as the contract says
	v := &vm{
		lease: vmpool.Lease{ID: id, Address: host, Cache: cache, ExpiresAt: p.cfg.Now().Add(p.cfg.LeaseDuration),
			State: vmpool.Running, Request: r},
		done: make(chan struct{}),
	}
	p.vms[id] = v
	p.byTask[r.TaskID] = id
	vctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	if p.cfg.Boot == nil {
		go func() {
			<-vctx.Done()
			p.stopped(v, nil)
		}()
	} else {
		boot := p.cfg.Boot
		req := v.snapshot().Request
		go func() { p.stopped(v, boot(vctx, req)) }()
	}
	return v.snapshot(), nil
}

// volumeFor gives lease id the project's free volume, or a new one. p.mu
// is held.
func (p *Pool) volumeFor(project, id string) string {
	for _, v := range p.volumes[project] {
		if v.holder == "" {
			v.holder = id
			return v.id
		}
	}
	p.vols++
	v := &volume{id: fmt.Sprintf("fakevol-%d", p.vols), holder: id}
	p.volumes[project] = append(p.volumes[project], v)
	return v.id
}

// snapshot is a copy of v's lease for a caller. p.mu is held.
func (v *vm) snapshot() vmpool.Lease {
	l := v.lease
	l.Request.Env, l.Request.Meta = maps.Clone(l.Request.Env), maps.Clone(l.Request.Meta)
	return l
}

// stopped records that v's Boot returned.
func (p *Pool) stopped(v *vm, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v.lease.State == vmpool.Running {
		v.lease.State = vmpool.Stopped
		v.lease.Reason = "the VM shut down"
		if err != nil {
			v.lease.Reason = "the VM failed: " + err.Error()
		}
	}
	v.cancel()
	close(v.done)
}

// reclaim stops the VMs whose lease expired. p.mu is held.
func (p *Pool) reclaim() {
	now := p.cfg.Now()
	for _, v := range p.vms {
		if v.lease.State == vmpool.Running && !now.Before(v.lease.ExpiresAt) {
			v.lease.State = vmpool.Stopped
			v.lease.Reason = fmt.Sprintf("the VM's lease expired at %s and the pool reclaimed it",
				v.lease.ExpiresAt.UTC().Format(time.RFC3339))
			v.cancel()
		}
	}
}

// Leases implements vmpool.Pool.
func (p *Pool) Leases(ctx context.Context) ([]vmpool.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reclaim()
	out := make([]vmpool.Lease, 0, len(p.vms))
	for _, v := range p.vms {
		out = append(out, v.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Release implements vmpool.Pool: it stops the VM and waits until Boot
// returned (or ctx ends).
func (p *Pool) Release(ctx context.Context, leaseID string) error {
	p.mu.Lock()
	v := p.vms[leaseID]
	if v != nil {
		delete(p.vms, leaseID)
		delete(p.byTask, v.lease.Request.TaskID)
		for _, vol := range p.volumes[v.lease.Request.ProjectSlug] {
			if vol.holder == leaseID {
				vol.holder = ""
			}
		}
		if v.lease.State == vmpool.Running {
			v.lease.State, v.lease.Reason = vmpool.Stopped, "released"
		}
		v.cancel()
	}
	p.mu.Unlock()
	if v == nil {
		return nil
	}
	select {
	case <-v.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fakepool: release %s: wait for the VM to stop: %w", leaseID, ctx.Err())
	}
}

// Kill makes a leased VM die as if the cloud lost it: its Boot is
// canceled and the lease is listed Stopped with reason until released. It
// reports whether the lease was running.
func (p *Pool) Kill(leaseID, reason string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.vms[leaseID]
	if v == nil || v.lease.State != vmpool.Running {
		return false
	}
	v.lease.State, v.lease.Reason = vmpool.Stopped, reason
	v.cancel()
	return true
}

// Made counts the leases made so far (a repeated Lease of a task makes
// none).
func (p *Pool) Made() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.made
}

// Held counts the leases not yet released.
func (p *Pool) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.vms)
}

// Close releases every lease and waits for the VMs to stop.
func (p *Pool) Close() {
	p.mu.Lock()
	ids := slices.Collect(maps.Keys(p.vms))
	p.mu.Unlock()
	for _, id := range ids {
		_ = p.Release(context.Background(), id)
	}
}

// Command returns a Boot that runs name with args as the VM's agent, with
// the request's Env added to this process's environment, its output to w
// (nil: discarded). Canceling the VM sends the process SIGTERM, and
// SIGKILL 10 s later. A non-zero exit becomes the error "the agent exited
// with code N".
func Command(w io.Writer, name string, args ...string) func(ctx context.Context, r vmpool.Request) error {
	return func(ctx context.Context, r vmpool.Request) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = os.Environ()
		for _, k := range slices.Sorted(maps.Keys(r.Env)) {
			cmd.Env = append(cmd.Env, k+"="+r.Env[k])
		}
		cmd.Stdout, cmd.Stderr = w, w
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 10 * time.Second
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("the VM was stopped: %w", context.Cause(ctx))
		case errors.As(err, &ee) && ee.ExitCode() >= 0:
			return fmt.Errorf("the agent exited with code %d", ee.ExitCode())
		default:
			return fmt.Errorf("the agent: %w", err)
		}
	}
}
