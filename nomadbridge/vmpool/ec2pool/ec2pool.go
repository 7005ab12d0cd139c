// Package ec2pool is the vmpool driver on Amazon EC2: Orbit's vm-service,
// vm-scaler and vm-gc. Each lease is one EC2 instance, terminated on
// Release and never reused; the pool's state is the instances' tags, so a
// restarted bridge finds its leases in EC2 as it finds its jobs in Nomad.
//
//	Lease(r) ─▶ find the pool (purpose, image, class) ── none ─▶ ErrUnknownClass
//	        ─▶ an unreleased instance tagged orbit:task-id=r.TaskID? ─▶ its lease
//	        ─▶ MaxVMs leases held ─▶ ErrUnavailable
//	        ─▶ preallocated pool with a stopped warm instance: tag it the
//	           task's, put the task's user data, start it (warm.go)
//	           else RunInstances (launch template, AMI, instance type,
//	           user data with r.Env, tags, ClientToken)
//	        ─▶ DLC: the project's free volume (or a new one) is attached
//	           once the instance runs (dlc.go)
//	Leases  ─▶ DescribeInstances tag:orbit:installation, has orbit:task-id,
//	           not orbit:released ─▶ pending/running: Running; stopping,
//	           stopped, shutting-down, terminated: Stopped with EC2's reason
//	Release ─▶ TerminateInstances, then tag orbit:released (a terminated
//	           instance stays listed Stopped until then)
//	Collector.Run (gc.go): vm-gc, warm top-up, daily cycling, volumes, metrics
//
// Tags (none secret): orbit:installation, orbit:pool, orbit:purpose,
// orbit:task-id, orbit:lease-id (= instance ID), orbit:project,
// orbit:image, orbit:class, orbit:expires-at, orbit:dlc, orbit:meta:<key>
// (Request.Meta), orbit:state (warm, claimed, started), orbit:released.
// Request.Env is only in the user data (userdata.go).
//
// Atomicity. EC2 has no conditional tag write, so the pool serializes its
// own Lease and Release calls with a mutex: the capacity count, the lookup
// by task, the claim of a warm instance and of a DLC volume happen under
// it. Across processes the bridge's leader lease (nomadbridge.Config.Lease)
// makes one bridge the only caller; a standby taking over re-reads the tags.
// The ClientToken of RunInstances (a hash of the task ID and the number of
// the task's earlier instances) makes a retried launch idempotent in AWS
// (moto ignores it; the lookup by tag covers the retry there).
package ec2pool

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/hostmetrics"
)

// Tag keys.
const (
	TagInstallation = "orbit:installation"
	TagPool         = "orbit:pool"
	TagPurpose      = "orbit:purpose"
	TagTaskID       = "orbit:task-id"
	TagLeaseID      = "orbit:lease-id"
	TagProject      = "orbit:project"
	TagImage        = "orbit:image"
	TagClass        = "orbit:class"
	TagExpiresAt    = "orbit:expires-at"
	TagDLC          = "orbit:dlc"
	TagMetaPrefix   = "orbit:meta:"
	TagState        = "orbit:state"
	TagReleased     = "orbit:released"
	// Volume tags.
	TagDLCProject  = "orbit:dlc-project"
	TagDLCLease    = "orbit:dlc-lease"
	TagDLCLastUsed = "orbit:dlc-last-used"
)

// Values of TagState.
const (
	stateWarm    = "warm"
	stateClaimed = "claimed"
	stateStarted = "started"
)

// Pool is the EC2 pool. Create it with New.
type Pool struct {
	cfg    Config
	api    EC2
	pools  map[string]PoolConfig // by poolKey
	script script

	mu     sync.Mutex // serializes Lease, Release and the collector's writes
	subnet int        // next subnet, round robin
	sshSG  string     // the SSH security group, once made (access.go)
	envs   sync.Map   // instance ID → map[string]string, read once from user data
}

var _ vmpool.Pool = (*Pool)(nil)

// New returns a pool on the EC2 API.
func New(cfg Config, api EC2) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if api == nil {
		return nil, errors.New("ec2pool: no EC2 client")
	}
	p := &Pool{cfg: cfg, api: api, pools: map[string]PoolConfig{}, script: script{agentPath: cfg.AgentPath}}
	if cfg.HostMetricsNamespace != "" {
		p.script.metricsNamespace = cfg.HostMetricsNamespace
		if p.script.metrics, err = hostmetrics.AgentConfig(hostmetrics.Options{Namespace: cfg.HostMetricsNamespace,
			DiskPaths: []string{"/", "/var/lib/docker"}}); err != nil {
			return nil, err
		}
	}
	for _, pc := range cfg.Pools {
		p.pools[poolKey(pc.Purpose, pc.Image, pc.ResourceClass)] = pc
	}
	return p, nil
}

// instance is an EC2 instance of this installation as the pool sees it.
type instance struct {
	types.Instance
	tags map[string]string
}

func (in instance) id() string { return aws.ToString(in.InstanceId) }

func (in instance) state() types.InstanceStateName {
	if in.State == nil {
		return ""
	}
	return in.State.Name
}

// gone: terminated or on its way there.
func (in instance) gone() bool {
	s := in.state()
	return s == types.InstanceStateNameTerminated || s == types.InstanceStateNameShuttingDown
}

func tagMap(ts []types.Tag) map[string]string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// describe lists the installation's instances matching filters.
func (p *Pool) describe(ctx context.Context, filters ...types.Filter) ([]instance, error) {
	filters = append(filters, types.Filter{Name: aws.String("tag:" + TagInstallation), Values: []string{p.cfg.Installation}})
	in := &ec2.DescribeInstancesInput{Filters: filters}
	var out []instance
	for {
		res, err := p.api.DescribeInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ec2pool: describe instances: %w", err)
		}
		for _, r := range res.Reservations {
			for _, i := range r.Instances {
				out = append(out, instance{Instance: i, tags: tagMap(i.Tags)})
			}
		}
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

// leases are the instances of the installation's leases, released or not.
type leaseSet []instance

// all lists the installation's lease instances, released ones included.
func (p *Pool) all(ctx context.Context) (leaseSet, error) {
	ins, err := p.describe(ctx, types.Filter{Name: aws.String("tag-key"), Values: []string{TagTaskID}})
	if err != nil {
		return nil, err
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].id() < ins[j].id() })
	return ins, nil
}

// held are the unreleased ones (of taskID; "" for all).
func (s leaseSet) held(taskID string) []instance {
	var out []instance
	for _, in := range s {
		if _, released := in.tags[TagReleased]; !released && (taskID == "" || in.tags[TagTaskID] == taskID) {
			out = append(out, in)
		}
	}
	return out
}

// count counts taskID's instances, released ones included.
func (s leaseSet) count(taskID string) int {
	n := 0
	for _, in := range s {
		if in.tags[TagTaskID] == taskID {
			n++
		}
	}
	return n
}

// leased lists the unreleased leases' instances.
func (p *Pool) leased(ctx context.Context) ([]instance, error) {
	all, err := p.all(ctx)
	if err != nil {
		return nil, err
	}
	return all.held(""), nil
}

// poolFor finds the pool serving r.
func (p *Pool) poolFor(r vmpool.Request) (PoolConfig, error) {
	purpose := r.Purpose
	if purpose == "" {
		purpose = vmpool.Machine
	}
	pc, ok := p.pools[poolKey(purpose, r.Image, r.ResourceClass)]
	if !ok {
		var known []string
		for _, pc := range p.cfg.Pools {
			if pc.Purpose == purpose {
				known = append(known, orDefault(pc.Image)+" "+pc.ResourceClass)
			}
		}
		sort.Strings(known)
		return PoolConfig{}, fmt.Errorf("%w: no %s pool for image %s and resource class %s (pools: %s)", vmpool.ErrUnknownClass,
			purpose, orDefault(r.Image), orDefault(r.ResourceClass), strings.Join(known, ", "))
	}
	return pc, nil
}

// Lease implements vmpool.Pool.
func (p *Pool) Lease(ctx context.Context, r vmpool.Request) (vmpool.Lease, error) {
	if r.TaskID == "" {
		return vmpool.Lease{}, errors.New("ec2pool: lease request without a task ID")
	}
	pc, err := p.poolFor(r)
	if err != nil {
		return vmpool.Lease{}, err
	}
	if r.DockerLayerCaching && pc.Preallocated > 0 {
		return vmpool.Lease{}, fmt.Errorf("%w: docker_layer_caching needs on-demand VMs, but the %s pool keeps %d preallocated "+
			"(as in CircleCI Server: set its preallocated count to 0, or turn docker_layer_caching off)", vmpool.ErrRefused, pc.Name, pc.Preallocated)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	set, err := p.all(ctx)
	if err != nil {
		return vmpool.Lease{}, err
	}
	if mine := set.held(r.TaskID); len(mine) > 0 {
		in := mine[0]
		if err := p.finishClaim(ctx, pc, &in, &r); err != nil {
			return vmpool.Lease{}, err
		}
		return p.lease(ctx, in)
	}
	if len(set.held("")) >= p.cfg.MaxVMs {
		return vmpool.Lease{}, fmt.Errorf("%w: all %d VMs are leased", vmpool.ErrUnavailable, p.cfg.MaxVMs)
	}
	r.Env, r.Meta = maps.Clone(r.Env), maps.Clone(r.Meta)
	var in instance
	if pc.Preallocated > 0 {
		in, err = p.claimWarm(ctx, pc, &r)
	}
	if err == nil && in.InstanceId == nil {
		in, err = p.launch(ctx, pc, &r, set)
	}
	if err != nil {
		return vmpool.Lease{}, err
	}
	p.envs.Store(in.id(), r.Env)
	p.cfg.Logger.Info("VM leased", "task_id", r.TaskID, "lease_id", in.id(), "pool", pc.Name,
		"instance_type", string(in.InstanceType), "warm", in.tags[TagState] != "")
	return p.lease(ctx, in)
}

// requestTags are the tags of a lease's instance.
// volID is the DLC volume's ID ("" for none).
func (p *Pool) requestTags(pc PoolConfig, r vmpool.Request, expires time.Time, volID string) map[string]string {
	t := map[string]string{
		TagInstallation: p.cfg.Installation, TagPool: pc.Name, TagPurpose: string(pc.Purpose),
		TagTaskID: r.TaskID, TagProject: r.ProjectSlug, TagImage: r.Image, TagClass: r.ResourceClass,
		TagExpiresAt: expires.UTC().Format(time.RFC3339),
	}
	if volID != "" {
		t[TagDLC] = volID
	}
	for k, v := range r.Meta {
		t[TagMetaPrefix+k] = v
	}
	return t
}

func ec2Tags(m map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// launch starts an on-demand instance for r; set is the installation's
// leases as Lease found them. r.Env gains what the pool adds for the VM
// (a remote Docker engine's TLS material).
func (p *Pool) launch(ctx context.Context, pc PoolConfig, r *vmpool.Request, set leaseSet) (instance, error) {
	var vol *volume
	var err error
	subnet, zone := p.nextSubnet(""), p.cfg.Zone
	// The number of the task's earlier instances keeps the ClientTokens of a
	// new lease after a release distinct from the released one's.
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", p.cfg.Installation, r.TaskID, set.count(r.TaskID)))
	token := hex.EncodeToString(sum[:16])
	if r.DockerLayerCaching {
		if vol, err = p.volumeFor(ctx, r.ProjectSlug, set.held(""), token+"-dlc"); err != nil {
			return instance{}, err
		}
		subnet, zone = p.nextSubnet(vol.zone), vol.zone
	}
	ni := ""
	if needsInterface(pc, r) {
		if ni, err = p.engineInterface(ctx, r, subnet, zone, token+"-eni"); err != nil {
			return instance{}, err
		}
	}
	env := maps.Clone(r.Env)
	if vol != nil {
		if env == nil {
			env = map[string]string{}
		}
		env[EnvDLCDevice] = p.cfg.DLC.Device
	}
	ud, err := p.script.userData(string(pc.Purpose), env)
	if err != nil {
		return instance{}, fmt.Errorf("ec2pool: user data for task %s: %w", r.TaskID, err)
	}
	if _, err := p.sshGroup(ctx); err != nil {
		return instance{}, err
	}
	expires := p.cfg.Now().Add(p.cfg.LeaseDuration)
	volID := ""
	if vol != nil {
		volID = vol.id
	}
	tags := p.requestTags(pc, *r, expires, volID)
	in := p.runInput(pc, subnet, ud, tags, types.ShutdownBehaviorTerminate)
	in.ClientToken = aws.String(token)
	if vol != nil {
		in.Placement = &types.Placement{AvailabilityZone: aws.String(vol.zone)}
	}
	if ni != "" {
		onInterface(in, ni)
	}
	out, err := p.api.RunInstances(ctx, in)
	if err != nil {
		return instance{}, launchError(pc, err)
	}
	if len(out.Instances) != 1 {
		return instance{}, fmt.Errorf("ec2pool: RunInstances started %d instances, want 1", len(out.Instances))
	}
	inst := instance{Instance: out.Instances[0], tags: tagMap(out.Instances[0].Tags)}
	if err := p.tagLeaseID(ctx, inst); err != nil {
		return instance{}, err
	}
	if err := p.dropDuplicates(ctx, inst); err != nil {
		return instance{}, err
	}
	if vol != nil {
		p.markVolume(ctx, vol.id, r.TaskID)
		p.attach(ctx, vol.id, inst.id())
	}
	return inst, nil
}

// dropDuplicates terminates the task's other new instances: a RunInstances
// the SDK sent again after a lost response made two where EC2 ignored the
// ClientToken (emulators do; EC2 honours it for a day).
func (p *Pool) dropDuplicates(ctx context.Context, keep instance) error {
	ins, err := p.describe(ctx, types.Filter{Name: aws.String("tag:" + TagTaskID), Values: []string{keep.tags[TagTaskID]}})
	if err != nil {
		return err
	}
	for _, in := range leaseSet(ins).held("") {
		if in.id() != keep.id() && in.tags[TagLeaseID] == "" {
			p.cfg.Logger.Warn("terminating a duplicate launch of the task", "task_id", keep.tags[TagTaskID], "instance_id", in.id())
			if err := p.terminate(ctx, in, "duplicate launch"); err != nil {
				return err
			}
		}
	}
	return nil
}

// runInput is the RunInstances input common to on-demand and warm VMs.
func (p *Pool) runInput(pc PoolConfig, subnet, ud string, tags map[string]string, shutdown types.ShutdownBehavior) *ec2.RunInstancesInput {
	in := &ec2.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType:                      types.InstanceType(pc.InstanceType),
		UserData:                          aws.String(base64.StdEncoding.EncodeToString([]byte(ud))),
		InstanceInitiatedShutdownBehavior: shutdown,
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: ec2Tags(tags)},
			{ResourceType: types.ResourceTypeVolume, Tags: ec2Tags(map[string]string{TagInstallation: p.cfg.Installation, TagPool: pc.Name})},
		},
		MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired},
	}
	if pc.AMI != "" {
		in.ImageId = aws.String(pc.AMI)
	}
	if pc.LaunchTemplate != "" {
		in.LaunchTemplate = &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String(pc.LaunchTemplate)}
	}
	if p.cfg.InstanceProfileARN != "" {
		in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: aws.String(p.cfg.InstanceProfileARN)}
	}
	// Always on an interface spec that says whether to give a public
	// address: a default subnet gives one unless told not to, and VMs are
	// private unless PublicIP (access.go).
	ni := types.InstanceNetworkInterfaceSpecification{DeviceIndex: aws.Int32(0),
		AssociatePublicIpAddress: aws.Bool(p.cfg.PublicIP), Groups: p.vmGroups()}
	if subnet != "" {
		ni.SubnetId = aws.String(subnet)
	}
	in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{ni}
	return in
}

// nextSubnet picks the next subnet, in zone when one is given.
func (p *Pool) nextSubnet(zone string) string {
	var cands []string
	for _, s := range p.cfg.SubnetIDs {
		if z, ok := p.cfg.SubnetZones[s]; zone == "" || !ok || z == zone {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	p.subnet++
	return cands[p.subnet%len(cands)]
}

func (p *Pool) tagLeaseID(ctx context.Context, in instance) error {
	_, err := p.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{in.id()},
		Tags: []types.Tag{{Key: aws.String(TagLeaseID), Value: aws.String(in.id())}}})
	if err != nil {
		return fmt.Errorf("ec2pool: tag instance %s: %w", in.id(), err)
	}
	in.tags[TagLeaseID] = in.id()
	return nil
}

// launchError turns EC2's capacity and limit errors into ErrUnavailable.
func launchError(pc PoolConfig, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InsufficientInstanceCapacity", "InstanceLimitExceeded", "VcpuLimitExceeded", "InsufficientHostCapacity",
			"InsufficientCapacity", "MaxSpotInstanceCountExceeded", "VolumeLimitExceeded", "InsufficientVolumeCapacity":
			return fmt.Errorf("%w: EC2 has no %s instance for the %s pool now (%s)", vmpool.ErrUnavailable, pc.InstanceType, pc.Name, ae.ErrorCode())
		case "InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidLaunchTemplateName.NotFoundException", "Unsupported":
			return fmt.Errorf("%w: the %s pool cannot start VMs: %s", vmpool.ErrRefused, pc.Name, ae.ErrorMessage())
		}
	}
	return fmt.Errorf("ec2pool: start a VM of the %s pool: %w", pc.Name, err)
}

// Leases implements vmpool.Pool.
func (p *Pool) Leases(ctx context.Context) ([]vmpool.Lease, error) {
	ins, err := p.leased(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]vmpool.Lease, 0, len(ins))
	for _, in := range ins {
		l, err := p.lease(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Release implements vmpool.Pool.
func (p *Pool) Release(ctx context.Context, leaseID string) error {
	if !strings.HasPrefix(leaseID, "i-") {
		return nil // never one of ours
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ins, err := p.describe(ctx, types.Filter{Name: aws.String("instance-id"), Values: []string{leaseID}})
	if err != nil {
		return err
	}
	if len(ins) == 0 {
		return nil
	}
	in := ins[0]
	if _, done := in.tags[TagReleased]; done {
		return nil
	}
	return p.terminate(ctx, in, "released")
}

// terminate terminates in and marks it released (terminated first: until
// the mark, the lease stays listed and Release may be retried).
func (p *Pool) terminate(ctx context.Context, in instance, why string) error {
	if !in.gone() {
		_, err := p.api.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{in.id()}})
		if err != nil && !notFound(err) {
			return fmt.Errorf("ec2pool: terminate %s: %w", in.id(), err)
		}
	}
	_, err := p.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{in.id()},
		Tags: []types.Tag{{Key: aws.String(TagReleased), Value: aws.String(p.cfg.Now().UTC().Format(time.RFC3339) + " " + why)}}})
	if err != nil && !notFound(err) {
		return fmt.Errorf("ec2pool: mark %s released: %w", in.id(), err)
	}
	p.envs.Delete(in.id())
	if v := in.tags[TagDLC]; v != "" {
		p.freeVolume(ctx, v)
	}
	return nil
}

func notFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && strings.HasSuffix(ae.ErrorCode(), ".NotFound")
}
