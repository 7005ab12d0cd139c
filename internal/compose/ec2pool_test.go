package compose

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
)

func TestVMPoolFromEnv(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantPool string
		wantErr  string
	}{
		{"embedded: none", map[string]string{}, "none", ""},
		{"aws without subnets: none", map[string]string{"ORBIT_SHAPE": "aws"}, "none", ""},
		{"aws with the stack's subnets: ec2", map[string]string{"ORBIT_SHAPE": "aws", "ORBIT_VM_SUBNET_IDS": "subnet-1,subnet-2"}, "ec2", ""},
		{"explicit none", map[string]string{"ORBIT_SHAPE": "aws", "ORBIT_VM_SUBNET_IDS": "subnet-1", "ORBIT_VM_POOL": "none"}, "none", ""},
		{"unknown pool", map[string]string{"ORBIT_VM_POOL": "gce"}, "", `ORBIT_VM_POOL="gce": want ec2 or none`},
		{"bad count", map[string]string{"ORBIT_VM_PREALLOCATED_MACHINE": "-1"}, "", `ORBIT_VM_PREALLOCATED_MACHINE="-1": want 0 or more`},
		{"bad age", map[string]string{"ORBIT_VM_MAX_AGE": "soon"}, "", `ORBIT_VM_MAX_AGE="soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(env(tt.env))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantPool, c.VM.Pool)
		})
	}
}

// TestEC2PoolConfigFromTheStack: the variables the CDK app sets make a
// valid pool: the region's default AMI with the stack's launch template,
// preallocated medium VMs, DLC settings.
func TestEC2PoolConfigFromTheStack(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"ORBIT_SHAPE": "aws", "AWS_REGION": "eu-west-1", "ORBIT_INSTALLATION": "ci",
		"ORBIT_VM_SUBNET_IDS": "subnet-a,subnet-b", "ORBIT_VM_SECURITY_GROUP_ID": "sg-1", "ORBIT_VM_LAUNCH_TEMPLATE": "ci-vm",
		"ORBIT_VM_INSTANCE_TYPE": "c5.large", "ORBIT_VM_PREALLOCATED_MACHINE": "2", "ORBIT_DLC_RETENTION": "24h"}))
	require.NoError(t, err)
	pc := ec2PoolConfig(c)
	assert.Equal(t, "ci", pc.Installation)
	assert.Equal(t, []string{"subnet-a", "subnet-b"}, pc.SubnetIDs)
	assert.Equal(t, []string{"sg-1"}, pc.SecurityGroupIDs)
	var medium ec2pool.PoolConfig
	for _, p := range pc.Pools {
		assert.Equal(t, "ci-vm", p.LaunchTemplate)
		if p.Purpose == "machine" && p.ResourceClass == "medium" && p.Image == "" {
			medium = p
		}
	}
	assert.Equal(t, "c5.large", medium.InstanceType)
	assert.Equal(t, 2, medium.Preallocated)
	assert.Equal(t, "24h0m0s", pc.DLC.Retention.String())
	_, err = ec2pool.New(pc, &ec2.Client{})
	require.NoError(t, err, "the pools are valid: default AMIs of eu-west-1, instance types of every class")
}
