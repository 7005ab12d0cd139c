package ec2pool_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
)

func sshGroups(t *testing.T, api *ec2.Client, inst string) []types.SecurityGroup {
	t.Helper()
	out, err := api.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: aws.String("group-name"), Values: []string{"orbit-" + inst + "-vm-ssh"}}}})
	require.NoError(t, err)
	return out.SecurityGroups
}

// TestVMsArePrivateByDefault: no public address, no SSH rule.
func TestVMsArePrivateByDefault(t *testing.T) {
	api := client(t)
	inst := installation(t)
	p := newPool(t, api, ec2pool.Config{Installation: inst, Pools: ec2pool.MachinePools(vmpool.Machine, nil, nil)})
	l, err := p.Lease(context.Background(), machineReq("private-1", "gh/acme/app"))
	require.NoError(t, err)
	in := describeOne(t, api, l.ID)
	assert.Empty(t, aws.ToString(in.PublicIpAddress), "a private VM has no public address")
	assert.Equal(t, aws.ToString(in.PrivateIpAddress), l.Address)
	assert.Empty(t, sshGroups(t, api, inst), "no SSH rule is made")
}

// TestPublicVMsAdmitSSH: with PublicIP each VM has a public address (its
// lease's) and the installation's SSH security group, whose one rule
// admits the configured networks to vmpool.SSHPort; the group is made once.
func TestPublicVMsAdmitSSH(t *testing.T) {
	api := client(t)
	inst := installation(t)
	p := newPool(t, api, ec2pool.Config{Installation: inst, Pools: ec2pool.MachinePools(vmpool.Machine, nil, nil),
		PublicIP: true, SSHCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"}})
	ctx := context.Background()
	var groupOf []string
	for _, task := range []string{"public-1", "public-2"} {
		l, err := p.Lease(ctx, machineReq(task, "gh/acme/app"))
		require.NoError(t, err)
		in := describeOne(t, api, l.ID)
		require.NotEmpty(t, aws.ToString(in.PublicIpAddress), "a public VM has a public address")
		assert.Equal(t, aws.ToString(in.PublicIpAddress), l.Address, "reached on its public address")
		var ids []string
		require.Len(t, in.NetworkInterfaces, 1)
		for _, g := range in.NetworkInterfaces[0].Groups {
			ids = append(ids, aws.ToString(g.GroupId))
		}
		groupOf = append(groupOf, ids...)
	}
	gs := sshGroups(t, api, inst)
	require.Len(t, gs, 1, "one SSH group per installation")
	g := gs[0]
	assert.Equal(t, []string{aws.ToString(g.GroupId), aws.ToString(g.GroupId)}, groupOf, "every public VM is in it")
	require.Len(t, g.IpPermissions, 1)
	perm := g.IpPermissions[0]
	assert.Equal(t, "tcp", aws.ToString(perm.IpProtocol))
	assert.EqualValues(t, vmpool.SSHPort, aws.ToInt32(perm.FromPort))
	assert.EqualValues(t, vmpool.SSHPort, aws.ToInt32(perm.ToPort))
	var cidrs []string
	for _, r := range perm.IpRanges {
		cidrs = append(cidrs, aws.ToString(r.CidrIp))
	}
	assert.ElementsMatch(t, []string{"203.0.113.0/24", "198.51.100.7/32"}, cidrs)

	// A restarted pool finds the group rather than making another.
	again := newPool(t, api, ec2pool.Config{Installation: inst, Pools: ec2pool.MachinePools(vmpool.Machine, nil, nil), PublicIP: true,
		SSHCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"}})
	_, err := again.Lease(ctx, machineReq("public-3", "gh/acme/app"))
	require.NoError(t, err)
	assert.Len(t, sshGroups(t, api, inst), 1)
}

func TestSSHCIDRsAreChecked(t *testing.T) {
	_, err := ec2pool.New(ec2pool.Config{Installation: "x", Region: "us-east-1", Pools: ec2pool.MachinePools(vmpool.Machine, nil, nil),
		PublicIP: true, SSHCIDRs: []string{"10.0.0.0/8", "the office"}}, &ec2.Client{})
	require.ErrorContains(t, err, `SSHCIDRs[1] "the office": want a CIDR block`)
}
