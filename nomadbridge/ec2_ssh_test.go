package nomadbridge_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool/ec2pooltest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/shared/runner"
)

// TestEC2RerunWithSSHOnAVM: a machine job rerun with SSH, on a public VM
// of the EC2 driver on moto. The VM (simulated: the agent runs here, on
// the VM's loopback address, with the public address its user data would
// read from the instance metadata) is in the installation's SSH security
// group; the job's output names `ssh -p 54782 user@<public IP>`; through
// that port (the VM's private address standing in for EC2's NAT) the
// requesting user's key gets a shell in the job's working directory and
// any other key is refused; the job ends after the idle time and the VM
// is released.
func TestEC2RerunWithSSHOnAVM(t *testing.T) {
	api := ec2pooltest.MotoClient(t)
	subnet, zone := loopbackSubnet(t, api)
	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	inst := "bridge-ssh-" + hex.EncodeToString(rnd[:])
	pool, err := ec2pool.New(ec2pool.Config{Installation: inst, Region: api.Options().Region, PublicIP: true,
		SubnetIDs: []string{subnet}, SubnetZones: map[string]string{subnet: zone},
		Pools: ec2pool.MachinePools(vmpool.Machine, []string{machineImage}, nil)}, api)
	require.NoError(t, err)

	exe, err := os.Executable()
	require.NoError(t, err)
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = tWriter{t}
	}
	run0 := fakepool.Command(out, exe)
	tmp := t.TempDir()
	sim := ec2pooltest.StartVM(api, inst, func(ctx context.Context, vm ec2pooltest.VM, env map[string]string) error {
		env[envTestAgent], env["TMPDIR"] = "1", tmp
		if a := env[agent.EnvSSHAddr]; strings.HasPrefix(a, ":") {
			// The VM listens on its own address; its user data names its
			// public one (the instance metadata's public-ipv4).
			env[agent.EnvSSHAddr] = vm.PrivateIP + a
			env[agent.EnvSSHHost] = vm.PublicIP
		}
		return run0(ctx, vmpool.Request{Env: env})
	})
	t.Cleanup(sim.Stop)
	u := newUnit(t, func(c *nomadbridge.Config) {
		c.Pool = pool
		c.PoolInterval = 50 * time.Millisecond
		c.RunnerURL, c.RunnerClient = srv.URL, nil
	})

	user, stranger := agenttest.Signer(t), agenttest.Signer(t)
	m := machineMessage("ec2-ssh")
	spec := runner.WithSSH(runner.TaskSpec{TaskID: m.TaskID, JobID: m.JobID, PipelineID: m.PipelineID, WorkflowID: m.WorkflowID,
		Executor: m.Executor, Image: m.Image,
		Steps: []runner.Step{run("build", "mkdir -p ~/project && cd ~/project && echo built > out.txt && echo WD=$(pwd -P)")},
	}, runner.SSHAccess{AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(user.PublicKey()))}, IdleSeconds: 2, MaxSeconds: 120})
	srv.Add(m.Token, spec)
	send(t, u.q, encode(t, m))
	u.start(t)

	var line []string
	require.Eventually(t, func() bool {
		line = sshLineRE.FindStringSubmatch(srv.Task(m.Token).Output(0))
		return line != nil
	}, 90*time.Second, 20*time.Millisecond, "no ssh line in the output of Enable SSH: %q; log:\n%s", srv.Task(m.Token).Output(0), u.logs)
	vms, err := api.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + ec2pool.TagTaskID), Values: []string{m.TaskID}},
		{Name: aws.String("tag:" + ec2pool.TagInstallation), Values: []string{inst}}}})
	require.NoError(t, err)
	require.Len(t, vms.Reservations, 1)
	vm := vms.Reservations[0].Instances[0]
	assert.Equal(t, strconv.Itoa(vmpool.SSHPort), line[1], "the VM service's SSH port")
	assert.Equal(t, aws.ToString(vm.PublicIpAddress), line[3], "the ssh line names the VM's public address")
	require.Len(t, vm.NetworkInterfaces, 1)
	var groups []string
	for _, g := range vm.NetworkInterfaces[0].Groups {
		groups = append(groups, aws.ToString(g.GroupName))
	}
	assert.Contains(t, groups, "orbit-"+inst+"-vm-ssh", "the VM is in the SSH security group")

	var wd string
	require.Eventually(t, func() bool {
		_, after, ok := strings.Cut(srv.Task(m.Token).Output(1), "WD=")
		wd = strings.TrimSpace(after)
		return ok && wd != ""
	}, 90*time.Second, 20*time.Millisecond, "the build step never printed its directory")
	addr := net.JoinHostPort(aws.ToString(vm.PrivateIpAddress), line[1])
	c := sshIn(t, addr, line[2], user, stranger)
	s, err := c.NewSession()
	require.NoError(t, err)
	got, err := s.CombinedOutput("pwd -P; cat out.txt")
	require.NoError(t, err)
	assert.Equal(t, wd+"\nbuilt\n", string(got), "a shell in the job's working directory")
	require.NoError(t, c.Close())

	require.Eventually(t, func() bool { return srv.Task(m.Token).Result != nil }, 90*time.Second, 20*time.Millisecond,
		"the job ends after the idle time")
	assert.Equal(t, runner.StatusSuccess, srv.Task(m.Token).Result.Status)
	assert.Contains(t, srv.Task(m.Token).Output(len(spec.Steps)-1), "No SSH session for 2s: the job ends.")
	require.Eventually(t, func() bool {
		ls, err := pool.Leases(context.Background())
		return err == nil && len(ls) == 0
	}, 60*time.Second, 20*time.Millisecond, "the VM is released; log:\n%s", u.logs)
	assert.Empty(t, sim.Errors())
}
