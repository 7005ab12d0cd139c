package ec2pool_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool/ec2pooltest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/vmpooltest"
)

func client(t *testing.T) *ec2.Client { return ec2pooltest.MotoClient(t) }

// installation is a fresh installation name: each test's instances and
// volumes are its own in the shared moto.
func installation(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test-" + hex.EncodeToString(b)
}

// newPool makes a pool for vmpooltest's cfg on moto, and releases what the
// test left when it ends.
func newPool(t *testing.T, api *ec2.Client, cfg ec2pool.Config) *ec2pool.Pool {
	t.Helper()
	if cfg.Installation == "" {
		cfg.Installation = installation(t)
	}
	if cfg.Region == "" {
		cfg.Region = api.Options().Region
	}
	cfg.EncodeModifiedUserData = true // moto's quirk
	p, err := ec2pool.New(cfg, api)
	require.NoError(t, err)
	t.Cleanup(func() {
		ls, err := p.Leases(context.Background())
		if err != nil {
			return
		}
		for _, l := range ls {
			_ = p.Release(context.Background(), l.ID)
		}
	})
	return p
}

func suitePools(cfg vmpooltest.Config) []ec2pool.PoolConfig {
	pools := ec2pool.MachinePools(vmpool.Machine, append(cfg.Images, cfg.PreallocatedImages...), cfg.ResourceClasses)
	for i, pc := range pools {
		if slices.Contains(cfg.PreallocatedImages, pc.Image) {
			pools[i].Preallocated = 1
		}
	}
	return append(pools, ec2pool.MachinePools(vmpool.RemoteDocker, nil, nil)...)
}

func TestConformance(t *testing.T) {
	vmpooltest.Run(t, func(t *testing.T, cfg vmpooltest.Config) vmpooltest.Driver {
		api := client(t)
		p := newPool(t, api, ec2pool.Config{MaxVMs: cfg.Capacity, Pools: suitePools(cfg)})
		return vmpooltest.Driver{Pool: p, Kill: func(t *testing.T, id string) {
			require.True(t, strings.HasPrefix(id, "i-"), "a lease ID is the instance ID")
			_, err := api.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
			require.NoError(t, err)
		}}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := ec2pool.New(ec2pool.Config{Region: "mars-north-1", Pools: []ec2pool.PoolConfig{{ResourceClass: "huge"}}}, &ec2.Client{})
	require.Error(t, err)
	for _, want := range []string{"Installation is required", `no default instance type for resource class "huge"`, `no default AMI for region "mars-north-1"`} {
		require.ErrorContains(t, err, want)
	}
}

// TestRemoteDockerLease: a remote Docker VM is reached at its Docker
// engine's TLS port, and its lease says what it is for.
func TestRemoteDockerLease(t *testing.T) {
	api := client(t)
	p := newPool(t, api, ec2pool.Config{Pools: ec2pool.MachinePools(vmpool.RemoteDocker, []string{"20.10.24"}, nil)})
	ctx := context.Background()
	l, err := p.Lease(ctx, vmpool.Request{TaskID: "rd-1", ProjectSlug: "gh/acme/app", Purpose: vmpool.RemoteDocker, Image: "20.10.24",
		Env: map[string]string{"DOCKER_TLS_CA": "ca"}})
	require.NoError(t, err)
	assert.Regexp(t, `^\d+\.\d+\.\d+\.\d+:2376$`, l.Address)
	_, err = p.Lease(ctx, vmpool.Request{TaskID: "rd-2", Purpose: vmpool.Machine})
	assert.ErrorIs(t, err, vmpool.ErrUnknownClass, "a remote Docker pool runs no machine jobs")
	ls, err := p.Leases(ctx)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	assert.Equal(t, vmpool.RemoteDocker, ls[0].Request.Purpose)
	assert.Equal(t, "ca", ls[0].Request.Env["DOCKER_TLS_CA"])
}
