package nomadbridge_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool/ec2pooltest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// ec2Unit is a bridge whose VM pool is ec2pool on moto, with the VMs
// played by ec2pooltest: each instance's user data is read back from moto
// and its agent is this test binary (TestMain), which fetches the task from
// the runner API, runs the steps and reports, as on a real VM.
type ec2Unit struct {
	*unit
	api  *ec2.Client
	pool *ec2pool.Pool
	srv  *agenttest.Server
	sim  *ec2pooltest.Simulator
	inst string
}

func newEC2Unit(t *testing.T) *ec2Unit {
	t.Helper()
	api := ec2pooltest.MotoClient(t)
	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	inst := "bridge-" + hex.EncodeToString(b)
	pool, err := ec2pool.New(ec2pool.Config{Installation: inst, Region: api.Options().Region,
		Pools: ec2pool.MachinePools(vmpool.Machine, []string{machineImage}, []string{"large"})}, api)
	require.NoError(t, err)

	exe, err := os.Executable()
	require.NoError(t, err)
	tmp := t.TempDir()
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = tWriter{t}
	}
	run := fakepool.Command(out, exe)
	sim := ec2pooltest.Start(api, inst, func(ctx context.Context, _ vmpool.Purpose, env map[string]string) error {
		env[envTestAgent] = "1"
		env["TMPDIR"] = tmp
		return run(ctx, vmpool.Request{Env: env})
	})
	t.Cleanup(sim.Stop)
	u := newUnit(t, func(c *nomadbridge.Config) {
		c.Pool = pool
		c.PoolInterval = 50 * time.Millisecond
		c.RunnerURL, c.RunnerClient = srv.URL, nil
	})
	return &ec2Unit{unit: u, api: api, pool: pool, srv: srv, sim: sim, inst: inst}
}

func (e *ec2Unit) task(t *testing.T, m runqueue.Message, steps ...runner.Step) {
	t.Helper()
	e.srv.Add(m.Token, runner.TaskSpec{TaskID: m.TaskID, JobID: m.JobID, PipelineID: m.PipelineID,
		WorkflowID: m.WorkflowID, Executor: m.Executor, Image: m.Image, Steps: steps})
	send(t, e.q, encode(t, m))
}

// instancesOf lists the installation's instances of a task.
func (e *ec2Unit) instancesOf(t *testing.T, taskID string) []types.Instance {
	t.Helper()
	out, err := e.api.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + ec2pool.TagTaskID), Values: []string{taskID}},
		{Name: aws.String("tag:" + ec2pool.TagInstallation), Values: []string{e.inst}}}})
	require.NoError(t, err)
	var ins []types.Instance
	for _, r := range out.Reservations {
		ins = append(ins, r.Instances...)
	}
	return ins
}

// TestEC2MachineJobsRunOnVMs: two machine jobs (one with Docker layer
// caching) dispatched by the bridge to EC2 instances in moto; each VM's
// agent runs its task from the runner API and reports success, the VMs
// power off and the bridge releases them; nothing is left running.
func TestEC2MachineJobsRunOnVMs(t *testing.T) {
	e := newEC2Unit(t)
	plain := machineMessage("ec2-plain", func(m *runqueue.Message) { m.ResourceClass = "large" })
	dlc := machineMessage("ec2-dlc", func(m *runqueue.Message) { m.DockerLayerCaching = true })
	e.task(t, plain, run("hello", `echo "hello from the VM"`))
	e.task(t, dlc, run("cached", `echo layers`))
	e.start(t)

	for _, c := range []struct {
		m   runqueue.Message
		out string
		typ types.InstanceType
		dlc bool
	}{{plain, "hello from the VM\n", "m5.xlarge", false}, {dlc, "layers\n", "m5.large", true}} {
		require.Eventually(t, func() bool { return e.srv.Task(c.m.Token).Result != nil }, 60*time.Second, 20*time.Millisecond,
			"no outcome for %s", c.m.TaskID)
		tk := e.srv.Task(c.m.Token)
		assert.Equal(t, runner.StatusSuccess, tk.Result.Status, c.m.TaskID)
		assert.Equal(t, c.out, tk.Output(0))
		assert.Zero(t, fromBridge(tk), "the VM's agent reported; the bridge had nothing to add")
		require.Eventually(t, func() bool {
			ins := e.instancesOf(t, c.m.TaskID)
			return len(ins) == 1 && ins[0].State.Name == types.InstanceStateNameTerminated
		}, 60*time.Second, 20*time.Millisecond, "the VM of %s is terminated", c.m.TaskID)
		in := e.instancesOf(t, c.m.TaskID)[0]
		assert.Equal(t, c.typ, in.InstanceType, "the resource class's instance type")
		tags := map[string]string{}
		for _, tg := range in.Tags {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		assert.Equal(t, c.m.ProjectSlug, tags[ec2pool.TagProject])
		assert.Equal(t, c.m.PipelineID, tags[ec2pool.TagMetaPrefix+nomadbridge.MetaPipelineID])
		assert.Equal(t, c.dlc, tags[ec2pool.TagDLC] != "", "DLC volume named on the instance")
		for k, v := range tags {
			assert.NotContains(t, k+v, c.m.Token, "the token is never a tag")
		}
	}
	require.Eventually(t, func() bool {
		ls, err := e.pool.Leases(context.Background())
		// (Released may count a lease twice: a list taken while it was
		// being released adopts it again, and Release is idempotent.)
		return err == nil && len(ls) == 0 && e.bridge.Stats().Released >= 2
	}, 60*time.Second, 20*time.Millisecond, "both leases released; log:\n%s", e.logs)
	assert.Equal(t, 2, e.sim.Boots(), "one VM per task, never reused")
	assert.Empty(t, e.sim.Errors())
	assert.NotContains(t, e.logs.String(), plain.Token, "the token is never logged")
}

// TestEC2DLCOnPreallocatedPoolFailsTheJob: a DLC job on a preallocated
// pool is infrastructure_fail with the pool's reason, and no VM starts.
func TestEC2DLCOnPreallocatedPoolFailsTheJob(t *testing.T) {
	api := ec2pooltest.MotoClient(t)
	pools := ec2pool.MachinePools(vmpool.Machine, []string{machineImage}, nil)
	for i := range pools {
		pools[i].Preallocated = 2
	}
	pool, err := ec2pool.New(ec2pool.Config{Installation: "bridge-prealloc", Region: api.Options().Region, Pools: pools}, api)
	require.NoError(t, err)
	u := newUnit(t, func(c *nomadbridge.Config) { c.Pool = pool; c.PoolInterval = 50 * time.Millisecond })
	m := machineMessage("ec2-prealloc-dlc", func(m *runqueue.Message) { m.DockerLayerCaching = true })
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return len(u.runner.results(m.Token)) == 1 }, "the job is told")
	res := u.runner.results(m.Token)[0]
	assert.Equal(t, runner.StatusInfrastructureFail, res.Status)
	assert.Contains(t, res.Message, "docker_layer_caching needs on-demand VMs")
	assert.Contains(t, res.Message, "set its preallocated count to 0")
	ls, err := pool.Leases(context.Background())
	require.NoError(t, err)
	assert.Empty(t, ls)
}
