package ec2pool_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool/ec2pooltest"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func instanceState(t *testing.T, api *ec2.Client, id string) (types.InstanceStateName, map[string]string) {
	t.Helper()
	out, err := api.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	in := out.Reservations[0].Instances[0]
	tags := map[string]string{}
	for _, tg := range in.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return in.State.Name, tags
}

func machineReq(task, project string) vmpool.Request {
	return vmpool.Request{TaskID: task, ProjectSlug: project, Purpose: vmpool.Machine,
		Env: map[string]string{"ORBIT_TASK_TOKEN": "tok-" + task}}
}

// TestCollectorStopsLeakedVMs: vm-gc terminates the VM of a task that
// ended (the bridge lost track of it) and one that ran too long, and
// leaves a running task's VM alone.
func TestCollectorStopsLeakedVMs(t *testing.T) {
	api := client(t)
	clk := &clock{now: time.Now()}
	p := newPool(t, api, ec2pool.Config{Pools: ec2pool.MachinePools(vmpool.Machine, nil, nil), Now: clk.Now})
	ctx := context.Background()
	leaked, err := p.Lease(ctx, machineReq("ended", "gh/acme/app"))
	require.NoError(t, err)
	live, err := p.Lease(ctx, machineReq("live", "gh/acme/app"))
	require.NoError(t, err)

	m := memmetrics.New()
	var asked sync.Map
	gc := ec2pool.NewCollector(p, ec2pool.CollectorConfig{Metrics: m, MaxAge: 6 * time.Hour,
		TaskEnded: func(_ context.Context, l vmpool.Lease) (bool, error) {
			asked.Store(l.Request.TaskID, l.Request.Env["ORBIT_TASK_TOKEN"])
			return l.Request.TaskID == "ended", nil
		}})
	rep, err := gc.Collect(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{leaked.ID: "its task ended"}, rep.Stale)
	tok, _ := asked.Load("ended")
	assert.Equal(t, "tok-ended", tok, "TaskEnded gets the lease with its token, to ask the runner API")
	state, tags := instanceState(t, api, leaked.ID)
	assert.Equal(t, types.InstanceStateNameTerminated, state, "the leaked VM is terminated")
	assert.Contains(t, tags[ec2pool.TagReleased], "vm-gc: its task ended")
	ls, err := p.Leases(ctx)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	assert.Equal(t, live.ID, ls[0].ID, "the live task keeps its VM")
	found, _ := m.Value(ec2pool.MetricStaleFound)
	stopped, _ := m.Value(ec2pool.MetricStaleStopped)
	inUse, _ := m.Value(ec2pool.MetricInUse)
	assert.Equal(t, []float64{1, 1, 1}, []float64{found, stopped, inUse})

	// Seven hours on, the live VM overstayed MaxAge. (moto's LaunchTime is
	// the real time, the pool's clock is the test's.)
	clk.add(7 * time.Hour)
	rep, err = gc.Collect(ctx)
	require.NoError(t, err)
	require.Contains(t, rep.Stale, live.ID)
	assert.Contains(t, rep.Stale[live.ID], "longer than the 6h0m0s limit")
	state, _ = instanceState(t, api, live.ID)
	assert.Equal(t, types.InstanceStateNameTerminated, state)
	ls, err = p.Leases(ctx)
	require.NoError(t, err)
	assert.Empty(t, ls)
	found, _ = m.Value(ec2pool.MetricStaleFound)
	assert.Equal(t, 2.0, found)
}

// TestCollectorDeletesOldAndSurplusVolumes: a free DLC volume past
// retention goes, and a project's free volumes beyond MaxPerProject go
// least recently used first; a volume in use is kept.
func TestCollectorDeletesOldAndSurplusVolumes(t *testing.T) {
	api := client(t)
	clk := &clock{now: time.Now()}
	p := newPool(t, api, ec2pool.Config{Pools: ec2pool.MachinePools(vmpool.Machine, nil, nil), Now: clk.Now,
		DLC: ec2pool.DLCConfig{MaxPerProject: 1, Retention: 48 * time.Hour}})
	ctx := context.Background()
	dlc := func(task, project string) vmpool.Lease {
		r := machineReq(task, project)
		r.DockerLayerCaching = true
		l, err := p.Lease(ctx, r)
		require.NoError(t, err)
		require.NotEmpty(t, l.Cache)
		return l
	}
	a := dlc("a", "gh/acme/app")
	clk.add(time.Minute)
	b := dlc("b", "gh/acme/app")
	clk.add(time.Minute)
	other := dlc("c", "gh/acme/other")
	m := memmetrics.New()
	gc := ec2pool.NewCollector(p, ec2pool.CollectorConfig{Metrics: m})
	rep, err := gc.Collect(ctx)
	require.NoError(t, err)
	assert.Empty(t, rep.VolumesDeleted, "volumes in use are kept, even beyond the bound")
	n, _ := m.Value(ec2pool.MetricVolumes)
	assert.Equal(t, 3.0, n)

	require.NoError(t, p.Release(ctx, a.ID))
	rep, err = gc.Collect(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{a.Cache}, rep.VolumesDeleted, "gh/acme/app has two volumes, bound 1: the free one goes")
	require.NoError(t, p.Release(ctx, b.ID))
	rep, err = gc.Collect(ctx)
	require.NoError(t, err)
	assert.Empty(t, rep.VolumesDeleted, "one free volume: within the bound and the retention")

	require.NoError(t, p.Release(ctx, other.ID))
	clk.add(49 * time.Hour)
	rep, err = gc.Collect(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{b.Cache, other.Cache}, rep.VolumesDeleted, "free volumes past retention go")
	vols, err := p.Volumes(ctx)
	require.NoError(t, err)
	assert.Empty(t, vols)
	n, _ = m.Value(ec2pool.MetricVolumes)
	assert.Zero(t, n)
}

// TestPreallocatedVMs: the collector keeps a warm VM per preallocated
// pool; a lease starts it with the task's user data (the simulated VM
// runs the task with its token) and a replacement is launched; warm VMs
// older than a day are cycled.
func TestPreallocatedVMs(t *testing.T) {
	api := client(t)
	clk := &clock{now: time.Now()}
	inst := installation(t)
	pools := ec2pool.MachinePools(vmpool.Machine, nil, nil)
	pools[0].Preallocated = 1
	p := newPool(t, api, ec2pool.Config{Installation: inst, Pools: pools, Now: clk.Now})
	ran := make(chan map[string]string, 4)
	sim := ec2pooltest.Start(api, inst, func(ctx context.Context, _ vmpool.Purpose, env map[string]string) error {
		ran <- env
		<-ctx.Done()
		return nil
	})
	t.Cleanup(sim.Stop)
	ctx := context.Background()
	gc := ec2pool.NewCollector(p, ec2pool.CollectorConfig{})
	rep, err := gc.Collect(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Launched)
	warmID := func() string {
		out, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
			{Name: aws.String("tag:" + ec2pool.TagInstallation), Values: []string{inst}},
			{Name: aws.String("tag:" + ec2pool.TagState), Values: []string{"warm"}},
			{Name: aws.String("instance-state-name"), Values: []string{"stopped"}}}})
		require.NoError(t, err)
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				return aws.ToString(in.InstanceId)
			}
		}
		return ""
	}
	var warm string
	require.Eventually(t, func() bool { warm = warmID(); return warm != "" }, 30*time.Second, 20*time.Millisecond,
		"the warm VM boots and powers off")

	l, err := p.Lease(ctx, machineReq("t1", "gh/acme/app"))
	require.NoError(t, err)
	assert.Equal(t, warm, l.ID, "the lease took the warm VM")
	assert.Equal(t, vmpool.Running, l.State)
	select {
	case env := <-ran:
		assert.Equal(t, "tok-t1", env["ORBIT_TASK_TOKEN"], "the warm VM started with the task's user data")
	case <-time.After(30 * time.Second):
		t.Fatal("the claimed VM never ran its task")
	}
	_, err = p.Lease(ctx, vmpool.Request{TaskID: "t3", ProjectSlug: "gh/acme/app", DockerLayerCaching: true})
	require.ErrorIs(t, err, vmpool.ErrRefused)

	var next string
	require.Eventually(t, func() bool { next = warmID(); return next != "" }, 30*time.Second, 20*time.Millisecond,
		"a replacement warm VM")
	assert.NotEqual(t, warm, next)
	require.NoError(t, p.Release(ctx, l.ID))
	state, _ := instanceState(t, api, l.ID)
	assert.Equal(t, types.InstanceStateNameTerminated, state, "a VM is never reused")

	clk.add(25 * time.Hour)
	rep, err = gc.Collect(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{next}, rep.Cycled, "daily cycling")
	assert.Equal(t, 1, rep.Launched)
	state, _ = instanceState(t, api, next)
	assert.Equal(t, types.InstanceStateNameTerminated, state)
	assert.Empty(t, sim.Errors())
}
