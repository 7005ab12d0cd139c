package nomadbridge_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls/dockertlstest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool/ec2pooltest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// loopbackSubnet makes a VPC and subnet of loopback addresses in moto
// (127.R.S.0/24, at random): the addresses EC2 gives its VMs are then this
// machine's, so a simulated VM serves on its own address and the VM
// service's ports (2376, 54782), as a real one does. moto numbers a
// subnet's instances from its start: a random subnet keeps two tests
// running at once off each other's addresses.
func loopbackSubnet(t *testing.T, api *ec2.Client) (subnet, zone string) {
	t.Helper()
	ctx := context.Background()
	r, sub := 1+mathrand.IntN(254), mathrand.IntN(256)
	vpc, err := api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(fmt.Sprintf("127.%d.0.0/16", r))})
	require.NoError(t, err)
	zone = api.Options().Region + "a"
	sn, err := api.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(fmt.Sprintf("127.%d.%d.0/24", r, sub)),
		AvailabilityZone: aws.String(zone)})
	require.NoError(t, err)
	return aws.ToString(sn.Subnet.SubnetId), zone
}

// engineIP is the address the engine certificate in a VM's environment
// names: where the simulated VM listens.
func engineIP(env map[string]string) (string, error) {
	m, ok := dockertls.ServerFromEnv(env)
	if !ok {
		return "", fmt.Errorf("a remote Docker VM without TLS material")
	}
	block, _ := pem.Decode([]byte(m.Cert))
	if block == nil {
		return "", fmt.Errorf("no engine certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil || len(c.IPAddresses) != 1 {
		return "", fmt.Errorf("engine certificate: %v, %d addresses", err, len(c.IPAddresses))
	}
	return c.IPAddresses[0].String(), nil
}

// pingWith reaches the engine at addr with the client material in dir.
func pingWith(dir, addr string) error {
	read := func(n string) string { b, _ := os.ReadFile(filepath.Join(dir, n)); return string(b) }
	host, _, _ := net.SplitHostPort(addr)
	cfg, err := dockertls.ClientConfig(dockertls.Material{CA: read(dockertls.FileCA), Cert: read(dockertls.FileCert),
		Key: read(dockertls.FileKey)}, host)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	res, err := c.Get("https://" + addr + "/_ping")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("ping: %s", res.Status)
	}
	return nil
}

// TestEC2RemoteDockerForDockerJobs: two docker jobs with
// setup_remote_docker, dispatched by the bridge with the EC2 driver on
// moto. Each gets a remote Docker VM (its engine simulated on the VM's own
// loopback address with the material of its user data); the Nomad job's
// agent (run here with the job's environment, as Nomad would) waits for
// its engine over TLS and the later step sees DOCKER_HOST at the VM's
// address, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH. The job's client is
// let in by its engine; the other job's client certificate is refused.
// No key reaches a log or a step's output; once the jobs are over the VMs
// are released.
func TestEC2RemoteDockerForDockerJobs(t *testing.T) {
	api := ec2pooltest.MotoClient(t)
	subnet, zone := loopbackSubnet(t, api)
	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	inst := "bridge-rd-" + hex.EncodeToString(b)
	pool, err := ec2pool.New(ec2pool.Config{Installation: inst, Region: api.Options().Region,
		SubnetIDs: []string{subnet}, SubnetZones: map[string]string{subnet: zone},
		Pools: ec2pool.MachinePools(vmpool.RemoteDocker, nil, nil)}, api)
	require.NoError(t, err)

	var mu sync.Mutex
	engines := map[string]*dockertlstest.Engine{} // by VM address
	sim := ec2pooltest.Start(api, inst, func(ctx context.Context, purpose vmpool.Purpose, env map[string]string) error {
		if purpose != vmpool.RemoteDocker {
			return fmt.Errorf("a %s VM in a remote Docker test", purpose)
		}
		ip, err := engineIP(env)
		if err != nil {
			return err
		}
		m, _ := dockertls.ServerFromEnv(env)
		e, err := dockertlstest.Start(m, net.JoinHostPort(ip, "2376"))
		if err != nil {
			return err
		}
		defer e.Close()
		mu.Lock()
		engines[e.Addr()] = e
		mu.Unlock()
		<-ctx.Done() // the engine runs until the VM is terminated
		return nil
	})
	t.Cleanup(sim.Stop)
	u := newUnit(t, func(c *nomadbridge.Config) {
		c.Pool = pool
		c.PoolInterval = 50 * time.Millisecond
		c.HeartbeatInterval = 100 * time.Millisecond
		c.RunnerURL, c.RunnerClient = srv.URL, nil
	})

	type job struct {
		m       runqueue.Message
		dir     string // where its step copies DOCKER_CERT_PATH
		version string
	}
	var jobs []job
	// rd-2 asks for a Docker version the pool has no image for: the
	// default image serves it, and its step says so.
	for id, version := range map[string]string{"rd-1": "default", "rd-2": "20.10.24"} {
		j := job{m: message(id), dir: t.TempDir(), version: version}
		srv.Add(j.m.Token, runner.TaskSpec{TaskID: j.m.TaskID, JobID: j.m.JobID, PipelineID: j.m.PipelineID,
			WorkflowID: j.m.WorkflowID, Executor: "docker", Image: j.m.Image, Steps: []runner.Step{
				{Type: runner.StepSetupRemoteDocker, Name: "Setup a remote Docker engine", Version: version},
				// The engine lives as long as the job: the step holds it
				// until the test has tried both clients on it.
				run("docker env", `cd `+j.dir+` && cp "$DOCKER_CERT_PATH"/*.pem . && echo "$DOCKER_TLS_VERIFY" && `+
					`echo "$DOCKER_HOST" > host.tmp && mv host.tmp host && while [ ! -e go ]; do sleep 0.05; done`),
			}})
		send(t, u.q, encode(t, j.m))
		jobs = append(jobs, j)
	}
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].m.TaskID < jobs[b].m.TaskID })
	u.start(t)

	exe, err := os.Executable()
	require.NoError(t, err)
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = tWriter{t}
	}
	agentRun := fakepool.Command(out, exe)
	var wg sync.WaitGroup
	defer wg.Wait()
	actx, cancel := context.WithCancel(context.Background())
	defer cancel() // first: a failed check stops the agents
	for _, j := range jobs {
		// Nomad's part: run the registered job's agent with its environment.
		var env map[string]string
		require.Eventually(t, func() bool {
			nj, _, err := u.jobs.Info(j.m.NomadJobID(), nil)
			if err != nil || nj == nil {
				return false
			}
			env = nj.TaskGroups[0].Tasks[0].Env
			return true
		}, 60*time.Second, 20*time.Millisecond, "the bridge registers %s", j.m.TaskID)
		require.NotEmpty(t, env[agent.EnvRemoteDockerHost], "the job's agent is given its engine")
		env[envTestAgent], env[agent.EnvTaskDir] = "1", t.TempDir()
		wg.Go(func() { _ = agentRun(actx, vmpool.Request{Env: env}) })
	}
	for _, j := range jobs {
		require.Eventually(t, func() bool {
			_, err := os.Stat(filepath.Join(j.dir, "host"))
			return err == nil
		}, 120*time.Second, 20*time.Millisecond, "%s reaches its docker step; log:\n%s", j.m.TaskID, u.logs)
	}
	addrs := map[string]string{}
	for _, j := range jobs {
		out, err := api.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []types.Filter{
			{Name: aws.String("tag:" + ec2pool.TagTaskID), Values: []string{j.m.TaskID}},
			{Name: aws.String("tag:" + ec2pool.TagInstallation), Values: []string{inst}}}})
		require.NoError(t, err)
		require.Len(t, out.Reservations, 1)
		vm := out.Reservations[0].Instances[0]
		addr := net.JoinHostPort(aws.ToString(vm.PrivateIpAddress), "2376")
		host, err := os.ReadFile(filepath.Join(j.dir, "host"))
		require.NoError(t, err)
		assert.Equal(t, "tcp://"+addr+"\n", string(host), "DOCKER_HOST is the VM's address")
		addrs[j.m.TaskID] = addr
	}
	mu.Lock()
	e1 := engines[addrs["rd-1"]]
	mu.Unlock()
	require.NotNil(t, e1, "the first job's engine runs at its VM's address")
	before := e1.Pings()
	assert.NoError(t, pingWith(jobs[0].dir, addrs["rd-1"]), "the job's client gets in")
	assert.Error(t, pingWith(jobs[1].dir, addrs["rd-1"]), "another job's client certificate is refused")
	assert.Equal(t, before+1, e1.Pings(), "only the job's own client reached the engine")
	for _, j := range jobs {
		require.NoError(t, os.WriteFile(filepath.Join(j.dir, "go"), nil, 0o600))
	}
	wg.Wait()

	for _, j := range jobs {
		tk := srv.Task(j.m.Token)
		require.NotNil(t, tk.Result, "%s reported", j.m.TaskID)
		require.Equal(t, runner.StatusSuccess, tk.Result.Status, "%s: %s%s", j.m.TaskID, tk.Output(0), tk.Output(1))
		assert.Equal(t, "1\n", tk.Output(1), "DOCKER_TLS_VERIFY")
		assert.Contains(t, tk.Output(0), "The remote Docker engine answered")
		notice := "Docker version 20.10.24 was asked for; this Orbit's VM pool has no remote Docker image for it"
		if j.version == "default" {
			assert.NotContains(t, tk.Output(0), "was asked for")
		} else {
			assert.Contains(t, tk.Output(0), notice)
		}
		for i := range 2 {
			for _, secret := range []string{"PRIVATE KEY", "CERTIFICATE"} {
				assert.NotContains(t, tk.Output(i), secret, "no TLS material in step output")
			}
		}
	}
	require.Eventually(t, func() bool {
		ls, err := pool.Leases(context.Background())
		return err == nil && len(ls) == 0
	}, 60*time.Second, 20*time.Millisecond, "both engines released once their jobs are over; log:\n%s", u.logs)
	logs := u.logs.String()
	assert.NotContains(t, logs, "PRIVATE KEY", "no key is logged")
	assert.False(t, strings.Contains(logs, jobs[0].m.Token), "the token is never logged")
	assert.Empty(t, sim.Errors())
}
