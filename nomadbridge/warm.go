package nomadbridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// Warm agents, the seed's "prescale": a configured number of build agents
// per resource class already placed on Nomad, each long-polling the bridge
// for one task (agent/warm.go has the protocol). The rendezvous is in the
// bridge, not the runner API: in AWS the API is a Lambda, where an idle long
// poll costs GB-seconds, while the bridge is a long-running process.
//
//	dispatch (a host-executor task of class C, not yet terminal)
//	   │ a warm agent of C waits in POST /claim? ──no──▶ cold: a new Nomad job
//	   ▼ yes: offer {claim, token}
//	agent POST /accept ──▶ record "warm job W runs task T" (a Nomad variable,
//	   │                   check-and-set: a task is taken once)
//	   │ no accept within AcceptTimeout ──▶ offer expired ──▶ cold
//	   ▼
//	delete the run-queue message; the watch follows W as T's job (heartbeats,
//	outcome from the agent's exit code, cancel = purge W); the pool registers
//	a new warm job for C at once. W is never given a second task.
//
//	every Interval and on events: keep Agents[C] idle warm jobs per class,
//	none after IdleAfter without a task of C (scale to zero), replace warm
//	jobs whose allocation ended or that stopped polling.
//
// Restart safety: warm jobs and the variables are in Nomad. A restarted
// bridge lists both before it watches allocations (warmRecover): warm jobs
// with a variable are busy (the watch reports their task), the others are
// idle and are adopted when they poll again. A message redelivered after a
// crash between the accept and its deletion finds its task's variable and
// is dropped as a duplicate, so a task handed to a warm agent is neither
// lost nor run twice.
//
// Only the host executor (raw_exec/exec) is served warm: the warm job is
// the same Nomad task as a cold host-executor job minus the task token.
// Docker-executor tasks when Config.Docker is set (their job carries the
// image and sidecars) and VM tasks when Config.Pool is set always go cold.

// Meta keys of warm jobs.
const (
	// MetaWarmClass marks a warm job and names its resource class.
	MetaWarmClass = "orbit_warm_class"
	// MetaWarmPool names the bridge installation whose pool it belongs to.
	MetaWarmPool = "orbit_warm_pool"
)

// Metrics of the warm pool, per resource_class.
const (
	MetricWarmIdle = "circle.nomad.warm_agents.idle"
	MetricWarmBusy = "circle.nomad.warm_agents.busy"
	// MetricWarmClaimed counts tasks that ran on a warm agent,
	// MetricWarmCold the tasks of a warm class that found none free.
	MetricWarmClaimed = "circle.nomad.warm_agents.claimed"
	MetricWarmCold    = "circle.nomad.warm_agents.cold_start"
)

// WarmConfig configures warm agents (Config.Warm). The zero value has
// none.
type WarmConfig struct {
	// Agents is how many idle warm agents to keep per resource class, e.g.
	// {"medium": 1} ("" is medium). GPU classes cannot be warm.
	Agents map[string]int
	// ClaimURL is the base URL of WarmHandler as warm agents reach it, e.g.
	// "http://127.0.0.1:8080/bridge/warm". Set it (with Secret) to enable
	// the pool; with every count 0 the bridge still finishes the tasks of
	// warm agents a previous run left.
	ClaimURL string
	// Secret signs each warm agent's token (HMAC-SHA256 of its id). It must
	// stay the same across restarts, so that agents placed before a restart
	// are still recognised.
	Secret []byte
	// IdleAfter is how long a class goes without a task before its warm
	// agents are retired (scale to zero; default 30 min, negative: never).
	// The next task of the class goes cold and brings them back.
	IdleAfter time.Duration
	// ClaimWait is the long poll of POST /claim (default 25 s).
	ClaimWait time.Duration
	// AcceptTimeout is how long an offered task waits for the agent's
	// accept before it goes cold (default 2 s).
	AcceptTimeout time.Duration
	// Interval is how often the pool checks its warm jobs (default 5 s).
	Interval time.Duration
}

// warmState is where a warm agent is in its one life.
type warmState int

const (
	warmStarting  warmState = iota // registered or adopted, not in a long poll
	warmWaiting                    // in a long poll: can be offered a task
	warmOffered                    // offered a task, accept awaited
	warmAccepting                  // accept received, being recorded
	warmBusy                       // runs its task
)

type warmAgent struct {
	id, class string
	state     warmState
	// wake is closed when a waiting agent is offered a task or retired.
	wake  chan struct{}
	offer *warmOffer
	task  *warmTask // when busy
	// retired agents get 410 and their job is purged.
	retired bool
	// seen is when the agent last polled (or was registered or adopted).
	seen time.Time
	// node is the Nomad node it runs on, as its claims say.
	node string
}

type warmOffer struct {
	claim   string
	msg     runqueue.Message
	result  chan warmResult // buffered: the accept's outcome
	expired bool
}

type warmResult int

const (
	warmFailed    warmResult = iota // not taken: go cold
	warmAccepted                    // the agent owns the task
	warmDuplicate                   // another warm agent already has the task
)

// warmPool is the bridge's warm agents.
type warmPool struct {
	cfg  WarmConfig
	name string // installation: prefix of job IDs and variable paths
	mu   sync.Mutex
	// agents are this pool's warm jobs by Nomad job ID.
	agents  map[string]*warmAgent
	waiting map[string][]*warmAgent // by class, in arrival order
	byTask  map[string]string       // task Nomad job ID → busy warm job
	demand  map[string]time.Time    // last task per class
	ready   chan struct{}           // closed once recovered
	kick    chan struct{}

	claimed, cold, registered, retired atomic.Int64
}

func newWarmPool(cfg WarmConfig, runnerURL string) *warmPool {
	setDefault(&cfg.IdleAfter, 30*time.Minute)
	setDefault(&cfg.ClaimWait, 25*time.Second)
	setDefault(&cfg.AcceptTimeout, 2*time.Second)
	setDefault(&cfg.Interval, 5*time.Second)
	sum := sha256.Sum256([]byte(runnerURL + "\x00" + cfg.ClaimURL))
	p := &warmPool{cfg: cfg, name: hex.EncodeToString(sum[:4]), agents: map[string]*warmAgent{},
		waiting: map[string][]*warmAgent{}, byTask: map[string]string{}, demand: map[string]time.Time{},
		ready: make(chan struct{}), kick: make(chan struct{}, 1)}
	return p
}

// checkWarm validates the warm configuration.
func checkWarm(cfg Config) error {
	w := cfg.Warm
	if w.ClaimURL == "" && len(w.Agents) == 0 {
		return nil
	}
	switch {
	case w.ClaimURL == "":
		return errors.New("nomadbridge: Config.Warm.ClaimURL is required for warm agents")
	case len(w.Secret) < 16:
		return errors.New("nomadbridge: Config.Warm.Secret must have at least 16 bytes")
	case cfg.Nomad.Variables == nil:
		return errors.New("nomadbridge: warm agents need Config.Nomad.Variables")
	}
	for c, n := range w.Agents {
		rc, ok := ResourceClasses[c]
		switch {
		case !ok:
			return fmt.Errorf("nomadbridge: warm agents: %w %q (known: %v)", ErrUnknownResourceClass, c,
				slices.Sorted(maps.Keys(ResourceClasses)))
		case rc.GPUs > 0:
			return fmt.Errorf("nomadbridge: warm agents: resource class %q has GPUs and cannot be kept warm", c)
		case n < 0:
			return fmt.Errorf("nomadbridge: warm agents: count %d for %q is negative", n, c)
		}
	}
	return nil
}

func (p *warmPool) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// warmClass is the resource class a message's task needs.
func warmClass(m runqueue.Message) string {
	if m.ResourceClass == "" {
		return "medium"
	}
	return m.ResourceClass
}

// warmable says whether a warm agent can run m's task: the host executor.
func (b *Bridge) warmable(m runqueue.Message) bool {
	if b.cfg.Docker != nil && (m.Executor == "docker" || m.Executor == "") {
		return false
	}
	return b.cfg.Pool == nil || !needsVM(m.Executor)
}

// dispatchWarm is dispatch's hand-off: it gives the task to a free warm
// agent when there is one. handled means the message was dealt with (taken
// by a warm agent, or a duplicate of a task a warm agent has), and deleted;
// otherwise the task goes cold.
func (b *Bridge) dispatchWarm(ctx context.Context, log *slog.Logger, m queue.Message, msg runqueue.Message) (handled bool, err error) {
	p := b.warm
	if p == nil {
		return false, nil
	}
	class := warmClass(msg)
	p.noteDemand(class, b.cfg.Clock.Now())
	if m.ReceiveCount > 1 {
		// A redelivery: the first delivery may have gone to a warm agent
		// (and the bridge crashed before deleting the message).
		select {
		case <-p.ready:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if w, ok := p.taskOn(msg.NomadJobID()); ok {
			b.stats.duplicates.Add(1)
			log.Info("a warm agent already runs the task: duplicate message", "nomad_job_id", w)
			b.delete(ctx, log, m)
			return true, nil
		}
	}
	if !b.warmable(msg) || p.cfg.Agents[class] == 0 {
		return false, nil
	}
	a, o := b.offerWarm(ctx, log, class, msg)
	if a == nil {
		p.cold.Add(1)
		b.cfg.Metrics.Count(MetricWarmCold, 1, classDim(class))
		log.Info("no free warm agent: cold start", "resource_class", class)
		return false, nil
	}
	switch p.awaitAccept(ctx, b.cfg.Clock, a, o) {
	case warmAccepted:
		p.claimed.Add(1)
		b.cfg.Metrics.Count(MetricWarmClaimed, 1, classDim(class))
		b.trackWarm(a.id, a.task)
		log.Info("task taken by a warm agent", "nomad_job_id", a.id, "resource_class", class,
			"receive_count", m.ReceiveCount)
		b.delete(ctx, log, m)
		p.poke() // replace it
		return true, nil
	case warmDuplicate:
		b.stats.duplicates.Add(1)
		log.Info("another warm agent already has the task: duplicate message")
		b.delete(ctx, log, m)
		return true, nil
	}
	log.Warn("the warm agent did not accept the task in time: cold start", "nomad_job_id", a.id)
	return false, nil
}

func classDim(class string) metrics.Dimension {
	return metrics.Dimension{Name: "resource_class", Value: class}
}

func (p *warmPool) noteDemand(class string, now time.Time) {
	if _, ok := p.cfg.Agents[class]; !ok {
		return // not a warm class: nothing to keep or bring back
	}
	p.mu.Lock()
	zero := p.cfg.Agents[class] > 0 && p.idleFor(class, now)
	p.demand[class] = now
	p.mu.Unlock()
	if zero {
		p.poke() // scaled to zero: bring the warm agents back
	}
}

// idleFor says whether class has been without a task past IdleAfter.
func (p *warmPool) idleFor(class string, now time.Time) bool {
	last, ok := p.demand[class]
	return p.cfg.IdleAfter > 0 && ok && now.Sub(last) >= p.cfg.IdleAfter
}

func (p *warmPool) taskOn(taskJob string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.byTask[taskJob]
	return w, ok
}

// offerWarm offers msg's task to the longest-waiting agent of class whose
// node takes new builds; agents on draining or ineligible nodes are
// retired (the pool replaces them where Nomad can place them).
func (b *Bridge) offerWarm(ctx context.Context, log *slog.Logger, class string, msg runqueue.Message) (*warmAgent, *warmOffer) {
	p := b.warm
	for {
		p.mu.Lock()
		var a *warmAgent
		for _, x := range p.waiting[class] {
			if x.state == warmWaiting && !x.retired {
				a = x
				break
			}
		}
		node := ""
		if a != nil {
			node = a.node
		}
		p.mu.Unlock()
		if a == nil {
			return nil, nil
		}
		if why := b.nodeRefusesBuilds(ctx, node); why != "" {
			log.Info("warm agent's node takes no new builds: retiring the agent", "nomad_job_id", a.id, "node_id", node, "reason", why)
			p.mu.Lock()
			p.retire(a)
			p.mu.Unlock()
			p.poke()
			continue
		}
		p.mu.Lock()
		if a.state == warmWaiting && !a.retired { // else another dispatch took it: look again
			p.removeWaiting(a)
			o := &warmOffer{claim: randomHex(12), msg: msg, result: make(chan warmResult, 1)}
			a.state, a.offer = warmOffered, o
			close(a.wake)
			p.mu.Unlock()
			return a, o
		}
		p.mu.Unlock()
	}
}

// nodeRefusesBuilds says why a node takes no new builds ("" when it does,
// or when that cannot be known: Nomad decides for cold jobs anyway).
func (b *Bridge) nodeRefusesBuilds(ctx context.Context, nodeID string) string {
	if b.cfg.Nomad.Nodes == nil || nodeID == "" {
		return ""
	}
	nctx, cancel := context.WithTimeout(ctx, runnerCheckTimeout)
	defer cancel()
	n, _, err := b.cfg.Nomad.Nodes.Info(nodeID, b.queryOpts(nctx))
	switch {
	case err != nil || n == nil:
		return ""
	case n.DrainStrategy != nil:
		return "draining"
	case n.SchedulingEligibility == api.NodeSchedulingIneligible:
		return "ineligible"
	case n.Status != api.NodeStatusReady:
		return "node " + n.Status
	}
	return ""
}

// awaitAccept waits for the agent's accept of o, up to AcceptTimeout; then
// the offer expires, unless the accept is already being recorded.
func (p *warmPool) awaitAccept(ctx context.Context, clk Clock, a *warmAgent, o *warmOffer) warmResult {
	select {
	case r := <-o.result:
		return r
	case <-clk.After(p.cfg.AcceptTimeout):
	case <-ctx.Done():
	}
	p.mu.Lock()
	if a.offer == o && a.state == warmOffered {
		o.expired = true
		a.offer, a.state = nil, warmStarting
		p.mu.Unlock()
		return warmFailed
	}
	p.mu.Unlock()
	return <-o.result // the accept is being recorded: bounded by one Nomad call
}

// removeWaiting takes a out of its class's waiting list.
func (p *warmPool) removeWaiting(a *warmAgent) {
	p.waiting[a.class] = slices.DeleteFunc(p.waiting[a.class], func(x *warmAgent) bool { return x == a })
}

// retire marks a retired and wakes its long poll; the caller purges the job.
func (p *warmPool) retire(a *warmAgent) {
	a.retired = true
	if a.state == warmWaiting {
		close(a.wake)
		p.removeWaiting(a)
		a.state = warmStarting
	}
}

// WarmStats is the warm pool's state, for /status and benchmarks.
type WarmStats struct {
	// Waiting counts, per class, idle agents in a long poll now (a task
	// would go to one at once); Idle adds those placed or starting.
	Waiting, Idle, Busy map[string]int
	// Claimed counts tasks given to warm agents, Cold the tasks of a warm
	// class that found none free, Registered and Retired warm jobs.
	Claimed, Cold, Registered, Retired int64
}

// WarmStats returns the pool's state (zero without warm agents).
func (b *Bridge) WarmStats() WarmStats {
	p := b.warm
	if p == nil {
		return WarmStats{}
	}
	s := WarmStats{Waiting: map[string]int{}, Idle: map[string]int{}, Busy: map[string]int{},
		Claimed: p.claimed.Load(), Cold: p.cold.Load(), Registered: p.registered.Load(), Retired: p.retired.Load()}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.agents {
		switch {
		case a.retired:
		case a.state == warmBusy || a.state == warmAccepting:
			s.Busy[a.class]++
		default:
			s.Idle[a.class]++
			if a.state == warmWaiting {
				s.Waiting[a.class]++
			}
		}
	}
	return s
}

// warmJobPrefix starts the Nomad job IDs of the pool's warm jobs.
func (p *warmPool) warmJobPrefix() string { return "orbit-warm-" + p.name + "-" }

// newWarmID names a new warm job of class.
func (p *warmPool) newWarmID(class string) string {
	slug := strings.NewReplacer("+", "plus", ".", "-").Replace(class)
	return p.warmJobPrefix() + slug + "-" + randomHex(4)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
