package ec2pool_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool/ec2pooltest"
)

func dockerReq(t *testing.T, task string) (vmpool.Request, *dockertls.CA) {
	t.Helper()
	ca, err := dockertls.NewCA(task, time.Now(), time.Hour)
	require.NoError(t, err)
	return vmpool.Request{TaskID: task, ProjectSlug: "gh/acme/app", Purpose: vmpool.RemoteDocker, DockerTLS: ca,
		Env: map[string]string{"ORBIT_TASK_TOKEN": "tok-" + task}}, ca
}

// certIP is the IP address the engine certificate in env names.
func certIP(t *testing.T, env map[string]string) string {
	t.Helper()
	m, ok := dockertls.ServerFromEnv(env)
	require.True(t, ok, "the VM's environment has the engine's material")
	block, _ := pem.Decode([]byte(m.Cert))
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	require.Len(t, cert.IPAddresses, 1)
	return cert.IPAddresses[0].String()
}

func describeOne(t *testing.T, api *ec2.Client, id string) types.Instance {
	t.Helper()
	out, err := api.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.Reservations, 1)
	require.Len(t, out.Reservations[0].Instances, 1)
	return out.Reservations[0].Instances[0]
}

// TestRemoteDockerEngineOnItsOwnInterface: an on-demand engine starts on
// a network interface made for it, its certificate names that interface's
// address (which Lease.Address is, even with PublicIP), its user data
// carries the material back to a restarted pool, and the collector
// deletes the interface once the VM is gone.
func TestRemoteDockerEngineOnItsOwnInterface(t *testing.T) {
	api := client(t)
	inst := installation(t)
	p := newPool(t, api, ec2pool.Config{Installation: inst, Pools: ec2pool.MachinePools(vmpool.RemoteDocker, nil, nil),
		PublicIP: true})
	ctx := context.Background()
	req, ca := dockerReq(t, "rd-eni")
	l, err := p.Lease(ctx, req)
	require.NoError(t, err)
	in := describeOne(t, api, l.ID)
	ip := aws.ToString(in.PrivateIpAddress)
	assert.Equal(t, net.JoinHostPort(ip, "2376"), l.Address, "the engine is reached on its private address")
	assert.Equal(t, ip, certIP(t, l.Request.Env))
	require.Len(t, in.NetworkInterfaces, 1)
	eni := aws.ToString(in.NetworkInterfaces[0].NetworkInterfaceId)
	nis, err := api.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	require.NoError(t, err)
	require.Len(t, nis.NetworkInterfaces, 1)
	tags := map[string]string{}
	for _, tg := range nis.NetworkInterfaces[0].TagSet {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	assert.Equal(t, inst, tags[ec2pool.TagInstallation])
	assert.Equal(t, "rd-eni", tags[ec2pool.TagTaskID])

	attr, err := api.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(l.ID),
		Attribute: types.InstanceAttributeNameUserData})
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value))
	require.NoError(t, err)
	back, err := ec2pool.ParseEnv(string(raw))
	require.NoError(t, err)
	assert.Equal(t, ip, certIP(t, back), "a restarted pool reads the material back")
	assert.Equal(t, ca.CertPEM(), back[dockertls.EnvServerCA])

	gc := ec2pool.NewCollector(p, ec2pool.CollectorConfig{})
	rep, err := gc.Collect(ctx)
	require.NoError(t, err)
	assert.Empty(t, rep.Interfaces, "a live engine keeps its interface")
	require.NoError(t, p.Release(ctx, l.ID))
	rep, err = gc.Collect(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{eni}, rep.Interfaces, "the released engine's interface is deleted")
}

// TestRemoteDockerPreallocated: a warm engine's certificate names the
// address the stopped VM kept.
func TestRemoteDockerPreallocated(t *testing.T) {
	api := client(t)
	inst := installation(t)
	pools := ec2pool.MachinePools(vmpool.RemoteDocker, nil, nil)
	pools[0].Preallocated = 1
	p := newPool(t, api, ec2pool.Config{Installation: inst, Pools: pools})
	ran := make(chan map[string]string, 2)
	sim := ec2pooltest.Start(api, inst, func(ctx context.Context, _ vmpool.Purpose, env map[string]string) error {
		ran <- env
		<-ctx.Done()
		return nil
	})
	t.Cleanup(sim.Stop)
	ctx := context.Background()
	_, err := ec2pool.NewCollector(p, ec2pool.CollectorConfig{}).Collect(ctx)
	require.NoError(t, err)
	warm := ""
	require.Eventually(t, func() bool {
		out, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
			{Name: aws.String("tag:" + ec2pool.TagInstallation), Values: []string{inst}},
			{Name: aws.String("instance-state-name"), Values: []string{"stopped"}}}})
		require.NoError(t, err)
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				warm = aws.ToString(in.InstanceId)
			}
		}
		return warm != ""
	}, 60*time.Second, 20*time.Millisecond, "the warm VM boots and powers off")
	req, _ := dockerReq(t, "rd-warm")
	l, err := p.Lease(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, warm, l.ID, "the lease took the warm VM")
	in := describeOne(t, api, l.ID)
	ip := aws.ToString(in.PrivateIpAddress)
	assert.Equal(t, ip, certIP(t, l.Request.Env))
	select {
	case env := <-ran:
		assert.Equal(t, ip, certIP(t, env), "the VM booted with the certificate for its address")
	case <-time.After(60 * time.Second):
		t.Fatal("the engine never booted")
	}
	assert.Empty(t, sim.Errors())
}
