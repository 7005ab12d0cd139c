package compose

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
)

// VMConfig chooses and configures the VM pool of machine and remote Docker
// jobs (`orbit bridge` in the aws shape). The CDK app sets every variable
// (infra/stack/env.go).
type VMConfig struct {
	// Pool is "ec2" (machine jobs on EC2 instances, nomadbridge/vmpool/
	// ec2pool) or "none" (they run on the host executor)
	// ($ORBIT_VM_POOL; default ec2 in the aws shape when
	// ORBIT_VM_SUBNET_IDS is set, else none).
	Pool string
	// Installation tags every VM and volume ($ORBIT_INSTALLATION; default
	// orbit): the bridge's IAM permissions are scoped by it.
	Installation string
	// SubnetIDs are the VMs' subnets, comma-separated
	// ($ORBIT_VM_SUBNET_IDS).
	SubnetIDs []string
	// SecurityGroupID of the VMs ($ORBIT_VM_SECURITY_GROUP_ID).
	SecurityGroupID string
	// InstanceProfileARN of the VMs ($ORBIT_VM_INSTANCE_PROFILE_ARN).
	InstanceProfileARN string
	// AMI is a custom image for every pool ($ORBIT_VM_AMI; default the
	// seed's per-region table, ec2pool.DefaultAMIs).
	AMI string
	// LaunchTemplate names the CDK app's launch template of the VMs
	// ($ORBIT_VM_LAUNCH_TEMPLATE; default none).
	LaunchTemplate string
	// InstanceType of medium machine VMs ($ORBIT_VM_INSTANCE_TYPE; default
	// m5.large; other classes use ec2pool.DefaultInstanceTypes).
	InstanceType string
	// PreallocatedMachine and PreallocatedRemoteDocker keep that many
	// stopped VMs ready in the default pools
	// ($ORBIT_VM_PREALLOCATED_MACHINE, $ORBIT_VM_PREALLOCATED_REMOTE_DOCKER;
	// default 0; DLC needs 0, as in the seed).
	PreallocatedMachine, PreallocatedRemoteDocker int
	// PublicAccess gives VMs a public address ($ORBIT_VM_PUBLIC_ACCESS=true)
	// and SSH access for reruns with SSH, through SSHSecurityGroupID
	// ($ORBIT_VM_SSH_SECURITY_GROUP_ID, the CDK app's group admitting
	// vmpool.SSHPort; default: the pool makes one open to 0.0.0.0/0).
	PublicAccess       bool
	SSHSecurityGroupID string
	// HostMetricsNamespace has the VMs run the CloudWatch agent with host
	// metrics there ($ORBIT_VM_HOST_METRICS_NAMESPACE; default none).
	HostMetricsNamespace string
	// MaxVMs bounds the VMs leased at once ($ORBIT_VM_MAX; default 50).
	MaxVMs int
	// MaxAge is vm-gc's limit on a VM's life ($ORBIT_VM_MAX_AGE; default 6h).
	MaxAge time.Duration
	// DLCRetention is how long an unused DLC volume is kept
	// ($ORBIT_DLC_RETENTION; default 72h); DLCMaxPerProject bounds a
	// project's volumes ($ORBIT_DLC_MAX_PER_PROJECT; default 5).
	DLCRetention     time.Duration
	DLCMaxPerProject int
}

// vmFromEnv reads VMConfig.
func vmFromEnv(getenv func(string) string, c *Config) error {
	v := &c.VM
	v.Pool = getenv("ORBIT_VM_POOL")
	if subnets := getenv("ORBIT_VM_SUBNET_IDS"); subnets != "" {
		v.SubnetIDs = strings.Split(subnets, ",")
	}
	if v.Pool == "" {
		v.Pool = "none"
		if c.Shape == AWS && len(v.SubnetIDs) > 0 {
			v.Pool = "ec2"
		}
	}
	if v.Pool != "ec2" && v.Pool != "none" {
		return fmt.Errorf("ORBIT_VM_POOL=%q: want ec2 or none", v.Pool)
	}
	v.Installation = getenv("ORBIT_INSTALLATION")
	if v.Installation == "" {
		v.Installation = "orbit"
	}
	v.SecurityGroupID = getenv("ORBIT_VM_SECURITY_GROUP_ID")
	v.InstanceProfileARN = getenv("ORBIT_VM_INSTANCE_PROFILE_ARN")
	v.AMI = getenv("ORBIT_VM_AMI")
	v.LaunchTemplate = getenv("ORBIT_VM_LAUNCH_TEMPLATE")
	v.InstanceType = getenv("ORBIT_VM_INSTANCE_TYPE")
	v.PublicAccess = getenv("ORBIT_VM_PUBLIC_ACCESS") == "true"
	v.SSHSecurityGroupID = getenv("ORBIT_VM_SSH_SECURITY_GROUP_ID")
	v.HostMetricsNamespace = getenv("ORBIT_VM_HOST_METRICS_NAMESPACE")
	var err error
	for _, n := range []struct {
		name string
		to   *int
	}{{"ORBIT_VM_PREALLOCATED_MACHINE", &v.PreallocatedMachine}, {"ORBIT_VM_PREALLOCATED_REMOTE_DOCKER", &v.PreallocatedRemoteDocker},
		{"ORBIT_VM_MAX", &v.MaxVMs}, {"ORBIT_DLC_MAX_PER_PROJECT", &v.DLCMaxPerProject}} {
		if s := getenv(n.name); s != "" {
			if *n.to, err = strconv.Atoi(s); err != nil || *n.to < 0 {
				return fmt.Errorf("%s=%q: want 0 or more", n.name, s)
			}
		}
	}
	if v.MaxAge, err = duration(getenv, "ORBIT_VM_MAX_AGE", "6h"); err != nil {
		return err
	}
	v.DLCRetention, err = duration(getenv, "ORBIT_DLC_RETENTION", "72h")
	return err
}

// vmPool builds the EC2 pool and its collector's runner (nil, nil when
// VM.Pool is none).
func (a *Assembly) vmPool() (vmpool.Pool, func(context.Context, func(context.Context, vmpool.Lease) (bool, error)) error, error) {
	v := a.cfg.VM
	if v.Pool != "ec2" {
		return nil, nil, nil
	}
	if a.awsCfg == nil {
		return nil, nil, fmt.Errorf("ORBIT_VM_POOL=ec2 needs the aws shape (ORBIT_SHAPE=aws)")
	}
	sink, err := a.Metrics()
	if err != nil {
		return nil, nil, err
	}
	pc := ec2PoolConfig(a.cfg)
	pc.Logger = a.log.With("component", "ec2pool")
	pool, err := ec2pool.New(pc, ec2.NewFromConfig(*a.awsCfg))
	if err != nil {
		return nil, nil, err
	}
	collect := func(ctx context.Context, ended func(context.Context, vmpool.Lease) (bool, error)) error {
		return ec2pool.NewCollector(pool, ec2pool.CollectorConfig{TaskEnded: ended, MaxAge: v.MaxAge, Metrics: sink}).Run(ctx)
	}
	return pool, collect, nil
}

// ec2PoolConfig is the EC2 pool's configuration: machine pools of the
// machine resource classes (GPU ones on GPU instances) and a remote Docker
// pool, the medium ones preallocated as configured.
func ec2PoolConfig(c Config) ec2pool.Config {
	v := c.VM
	machine := ec2pool.MachinePools(vmpool.Machine, nil, []string{"large", "xlarge", "2xlarge", "gpu.nvidia.small", "gpu.nvidia.medium"})
	docker := ec2pool.MachinePools(vmpool.RemoteDocker, nil, nil)
	for i := range machine {
		machine[i].AMI, machine[i].LaunchTemplate = v.AMI, v.LaunchTemplate
		if machine[i].ResourceClass == "medium" {
			machine[i].InstanceType, machine[i].Preallocated = v.InstanceType, v.PreallocatedMachine
		}
	}
	for i := range docker {
		docker[i].AMI, docker[i].LaunchTemplate, docker[i].Preallocated = v.AMI, v.LaunchTemplate, v.PreallocatedRemoteDocker
	}
	var groups []string
	if v.SecurityGroupID != "" {
		groups = []string{v.SecurityGroupID}
	}
	return ec2pool.Config{
		Installation: v.Installation, Region: c.AWS.Region, Pools: append(machine, docker...),
		SubnetIDs: v.SubnetIDs, SecurityGroupIDs: groups, InstanceProfileARN: v.InstanceProfileARN,
		PublicIP: v.PublicAccess, SSHSecurityGroupID: v.SSHSecurityGroupID, HostMetricsNamespace: v.HostMetricsNamespace,
		MaxVMs: v.MaxVMs,
		DLC:    ec2pool.DLCConfig{Retention: v.DLCRetention, MaxPerProject: v.DLCMaxPerProject},
	}
}
