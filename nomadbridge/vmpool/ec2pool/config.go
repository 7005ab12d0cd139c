package ec2pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// EC2 is the part of the EC2 API the pool calls; *ec2.Client satisfies it.
type EC2 interface {
	RunInstances(ctx context.Context, in *ec2.RunInstancesInput, opts ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeInstanceAttribute(ctx context.Context, in *ec2.DescribeInstanceAttributeInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error)
	ModifyInstanceAttribute(ctx context.Context, in *ec2.ModifyInstanceAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyInstanceAttributeOutput, error)
	StartInstances(ctx context.Context, in *ec2.StartInstancesInput, opts ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error)
	TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, opts ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, opts ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, opts ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error)
	CreateVolume(ctx context.Context, in *ec2.CreateVolumeInput, opts ...func(*ec2.Options)) (*ec2.CreateVolumeOutput, error)
	DescribeVolumes(ctx context.Context, in *ec2.DescribeVolumesInput, opts ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error)
	AttachVolume(ctx context.Context, in *ec2.AttachVolumeInput, opts ...func(*ec2.Options)) (*ec2.AttachVolumeOutput, error)
	DeleteVolume(ctx context.Context, in *ec2.DeleteVolumeInput, opts ...func(*ec2.Options)) (*ec2.DeleteVolumeOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	CreateNetworkInterface(ctx context.Context, in *ec2.CreateNetworkInterfaceInput, opts ...func(*ec2.Options)) (*ec2.CreateNetworkInterfaceOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, opts ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	DeleteNetworkInterface(ctx context.Context, in *ec2.DeleteNetworkInterfaceInput, opts ...func(*ec2.Options)) (*ec2.DeleteNetworkInterfaceOutput, error)
	DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, opts ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, opts ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
}

var _ EC2 = (*ec2.Client)(nil)

// Config configures a Pool.
type Config struct {
	// Installation tags every instance and volume (orbit:installation): the
	// pool sees only its own, and the bridge's IAM policy is scoped by it.
	// Required.
	Installation string
	// Region picks the default AMI (DefaultAMIs) when a pool names none.
	Region string
	// Pools are the kinds of VM offered. Required (at least one).
	Pools []PoolConfig
	// SubnetIDs are where VMs start, used in turn (default: the account's
	// default subnet). A DLC volume lives in one availability zone, so a
	// lease with a volume starts in a subnet of the volume's zone.
	SubnetIDs []string
	// SubnetZones maps each subnet to its availability zone; needed for DLC
	// with more than one zone (default: all subnets in Zone).
	SubnetZones map[string]string
	// Zone is the availability zone of DLC volumes when SubnetZones is
	// empty (default: Region + "a").
	Zone string
	// SecurityGroupIDs of every VM (default: the VPC's default group).
	SecurityGroupIDs []string
	// InstanceProfileARN is the VMs' instance profile ("" for none).
	InstanceProfileARN string
	// PublicIP gives VMs a public address, used as Lease.Address (the
	// seed's "Allowing Access to VM Service Instances"; default private).
	// Remote Docker engines with TLS are reached on their private address
	// all the same (remotedocker.go). Public VMs also get the pool's SSH
	// security group (access.go).
	PublicIP bool
	// SSHCIDRs are the networks the SSH security group admits to
	// vmpool.SSHPort when PublicIP is set (default 0.0.0.0/0, as the
	// seed's checkbox opens it; narrow it to your offices' ranges).
	SSHCIDRs []string
	// SSHSecurityGroupID is a group that already admits SSH to
	// vmpool.SSHPort (the CDK app's): public VMs get it, and the pool
	// makes no group of its own ("" to let the pool make one).
	SSHSecurityGroupID string
	// HostMetricsNamespace, when set, has every task VM run the CloudWatch
	// agent with CPU, memory, disk and network metrics in this namespace
	// (shared/hostmetrics), and `orbit docker-metrics` (AgentPath must be
	// the orbit binary, not orbit-agent) with the Docker ones
	// (hostmetrics/dockermetrics); the VMs' role must allow PutMetricData
	// there.
	HostMetricsNamespace string
	// AgentPath is the orbit binary on the image (default
	// /usr/local/bin/orbit).
	AgentPath string
	// MaxVMs bounds the leases held at once, stopped ones included; a Lease
	// beyond it answers vmpool.ErrUnavailable (default 50).
	MaxVMs int
	// LeaseDuration is how long a lease lives (ExpiresAt; default 5 h 30 min:
	// CircleCI's 5 h job timeout and time to boot).
	LeaseDuration time.Duration
	// DLC configures Docker layer caching volumes.
	DLC DLCConfig
	// EncodeModifiedUserData base64-encodes the user data given to a
	// claimed warm VM (ModifyInstanceAttribute) before the SDK encodes the
	// blob again: moto 5.2.1 decodes the blob and then expects base64 in
	// it, where EC2 takes the SDK's single encoding. Tests on moto only.
	EncodeModifiedUserData bool
	// Logger receives the pool's lines (default: discarded). Request.Env
	// never reaches it.
	Logger *slog.Logger
	// Now is the clock of ExpiresAt and the collector (default time.Now).
	Now func() time.Time
}

// PoolConfig is one kind of VM: a purpose, an image and a resource class.
type PoolConfig struct {
	// Name tags the pool's instances (orbit:pool). Default
	// "<purpose>/<image or default>/<class>".
	Name string
	// Purpose is what the pool's VMs are for (default vmpool.Machine).
	Purpose vmpool.Purpose
	// Image is the request image served ("" the default image; for
	// RemoteDocker the Docker version, "" the default).
	Image string
	// ResourceClass is the request class served ("" and "medium" are the
	// same).
	ResourceClass string
	// InstanceType of the VMs (default: DefaultInstanceTypes[class]).
	InstanceType string
	// AMI of the VMs: a custom image built with the seed's image-builder
	// flow (default: DefaultAMIs[Region]; in a region the table lacks, the
	// launch template's image).
	AMI string
	// LaunchTemplate names a launch template the VMs start from (the CDK
	// app's; its instance type and AMI are overridden by the above).
	LaunchTemplate string
	// Preallocated keeps this many stopped, booted instances ready; a
	// lease starts one and a replacement is launched. Preallocated pools
	// cannot use Docker layer caching (the seed's rule).
	Preallocated int
}

// DLCConfig configures Docker layer caching volumes.
type DLCConfig struct {
	// SizeGiB of a new volume (default 50).
	SizeGiB int32
	// VolumeType of a new volume (default gp3).
	VolumeType string
	// Device is where the volume is attached (default /dev/sdf); the VM
	// mounts it at /var/lib/docker.
	Device string
	// MaxPerProject bounds a project's volumes: the collector deletes the
	// least recently used free ones beyond it (disk pressure; default 5).
	MaxPerProject int
	// Retention is how long a free volume is kept unused before the
	// collector deletes it (default 72 h).
	Retention time.Duration
}

// DefaultAMIs is the seed's table of default VM service AMIs per region.
var DefaultAMIs = map[string]string{
	"ap-northeast-1": "ami-0e49af0659db9fc5d",
	"ap-northeast-2": "ami-03e485694bc2da249",
	"ap-south-1":     "ami-050370e57dfc6574a",
	"ap-southeast-1": "ami-0a75ff7b28897268c",
	"ap-southeast-2": "ami-072b1b45245549586",
	"ca-central-1":   "ami-0e44086f0f518ad2d",
	"eu-central-1":   "ami-09cbcfe446101b4ea",
	"eu-west-1":      "ami-0d1cbc2cc3075510a",
	"eu-west-2":      "ami-0bd22dcdc30fa260b",
	"sa-east-1":      "ami-038596d5a4fc9893b",
	"us-east-1":      "ami-0843ca047684abe87",
	"us-east-2":      "ami-03d60a35576647f63",
	"us-west-1":      "ami-06f6efb13d9ccf93d",
	"us-west-2":      "ami-0b5b8ad02f405a909",
}

// DefaultInstanceTypes maps CircleCI's machine resource classes to EC2
// instance types; GPU classes get GPU instances.
var DefaultInstanceTypes = map[string]string{
	"medium":                    "m5.large",
	"large":                     "m5.xlarge",
	"xlarge":                    "m5.2xlarge",
	"2xlarge":                   "m5.4xlarge",
	"2xlarge+":                  "m5.8xlarge",
	"gpu.nvidia.small":          "p3.2xlarge",
	"gpu.nvidia.medium":         "g4dn.xlarge",
	"gpu.nvidia.large":          "g4dn.12xlarge",
	"windows.gpu.nvidia.medium": "g4dn.xlarge",
	"arm.medium":                "m6g.large",
	"arm.large":                 "m6g.xlarge",
	"remote_docker":             "m5.large",
	"remote_docker.medium":      "m5.large",
	"remote_docker.large":       "m5.xlarge",
}

// MachinePools returns a pool for each image ("" included) and resource
// class ("medium" included), on demand, with the default instance types.
func MachinePools(purpose vmpool.Purpose, images, classes []string) []PoolConfig {
	var out []PoolConfig
	for _, img := range dedupe(append([]string{""}, images...)) {
		for _, c := range dedupe(append([]string{"medium"}, classes...)) {
			out = append(out, PoolConfig{Purpose: purpose, Image: img, ResourceClass: c})
		}
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// withDefaults checks cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if cfg.Installation == "" {
		errs = append(errs, errors.New("Installation is required (the orbit:installation tag)"))
	}
	if len(cfg.Pools) == 0 {
		errs = append(errs, errors.New("Pools: at least one pool is required"))
	}
	if cfg.PublicIP && len(cfg.SSHCIDRs) == 0 {
		cfg.SSHCIDRs = []string{"0.0.0.0/0"}
	}
	for i, c := range cfg.SSHCIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			errs = append(errs, fmt.Errorf("SSHCIDRs[%d] %q: want a CIDR block such as 203.0.113.0/24", i, c))
		}
	}
	if cfg.AgentPath == "" {
		cfg.AgentPath = "/usr/local/bin/orbit"
	}
	if cfg.MaxVMs <= 0 {
		cfg.MaxVMs = 50
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = 5*time.Hour + 30*time.Minute
	}
	if cfg.Zone == "" {
		cfg.Zone = cfg.Region + "a"
	}
	d := &cfg.DLC
	if d.SizeGiB <= 0 {
		d.SizeGiB = 50
	}
	if d.VolumeType == "" {
		d.VolumeType = "gp3"
	}
	if d.Device == "" {
		d.Device = "/dev/sdf"
	}
	if d.MaxPerProject <= 0 {
		d.MaxPerProject = 5
	}
	if d.Retention <= 0 {
		d.Retention = 72 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pools := make([]PoolConfig, len(cfg.Pools))
	names := map[string]bool{}
	keys := map[string]bool{}
	for i, p := range cfg.Pools {
		if p.Purpose == "" {
			p.Purpose = vmpool.Machine
		}
		if p.ResourceClass == "" {
			p.ResourceClass = "medium"
		}
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s/%s/%s", p.Purpose, orDefault(p.Image), p.ResourceClass)
		}
		where := fmt.Sprintf("Pools[%d] (%s)", i, p.Name)
		if p.InstanceType == "" {
			p.InstanceType = DefaultInstanceTypes[p.ResourceClass]
			if p.InstanceType == "" {
				errs = append(errs, fmt.Errorf("%s: no default instance type for resource class %q: set InstanceType", where, p.ResourceClass))
			}
		}
		if p.AMI == "" {
			p.AMI = DefaultAMIs[cfg.Region]
			if p.AMI == "" && p.LaunchTemplate == "" {
				errs = append(errs, fmt.Errorf("%s: no default AMI for region %q: set AMI or LaunchTemplate", where, cfg.Region))
			}
		}
		if p.Preallocated < 0 {
			errs = append(errs, fmt.Errorf("%s: Preallocated %d: want 0 or more", where, p.Preallocated))
		}
		k := poolKey(p.Purpose, p.Image, p.ResourceClass)
		if names[p.Name] || keys[k] {
			errs = append(errs, fmt.Errorf("%s: a pool with this name, or for this purpose, image and class, is listed twice", where))
		}
		names[p.Name], keys[k] = true, true
		pools[i] = p
	}
	cfg.Pools = pools
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("ec2pool: %w", err)
	}
	return cfg, nil
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

func poolKey(p vmpool.Purpose, image, class string) string {
	if class == "" {
		class = "medium"
	}
	return strings.Join([]string{string(p), image, class}, "\x00")
}
