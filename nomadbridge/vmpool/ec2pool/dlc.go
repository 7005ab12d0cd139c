package ec2pool

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// Docker layer caching, as the seed's VM service does it: an EBS volume
// per project (tag orbit:dlc-project), mounted at /var/lib/docker.
//
//	Lease(DLC) ─▶ the project's volumes ─▶ a free one (available, and no
//	              unreleased lease names it in orbit:dlc), most recently
//	              used first ─▶ none: CreateVolume
//	           ─▶ the VM starts in the volume's zone, AttachVolume once it
//	              runs; tags orbit:dlc-lease (task) and orbit:dlc-last-used
//	Release    ─▶ TerminateInstances detaches the volume: free again
//	Collector  ─▶ free volumes unused past Retention, and a project's free
//	              volumes beyond MaxPerProject (least recently used first),
//	              are deleted
//
// A volume serves only its project's leases and one lease at a time: it is
// chosen under the pool's mutex, and EC2 refuses to attach a volume that is
// in use (moto does not: the pool never asks it to).

// volume is a DLC volume of this installation.
type volume struct {
	id, project, zone string
	state             types.VolumeState
	lastUsed          time.Time
	tags              map[string]string
}

// volumes lists the installation's DLC volumes (project "" for all).
func (p *Pool) volumes(ctx context.Context, project string) ([]volume, error) {
	f := []types.Filter{{Name: aws.String("tag:" + TagInstallation), Values: []string{p.cfg.Installation}},
		{Name: aws.String("tag-key"), Values: []string{TagDLCProject}}}
	if project != "" {
		f = append(f, types.Filter{Name: aws.String("tag:" + TagDLCProject), Values: []string{project}})
	}
	in := &ec2.DescribeVolumesInput{Filters: f}
	var out []volume
	for {
		res, err := p.api.DescribeVolumes(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ec2pool: describe DLC volumes: %w", err)
		}
		for _, v := range res.Volumes {
			t := tagMap(v.Tags)
			vol := volume{id: aws.ToString(v.VolumeId), project: t[TagDLCProject], zone: aws.ToString(v.AvailabilityZone),
				state: v.State, tags: t}
			vol.lastUsed, _ = time.Parse(time.RFC3339, t[TagDLCLastUsed])
			if vol.lastUsed.IsZero() && v.CreateTime != nil {
				vol.lastUsed = *v.CreateTime
			}
			out = append(out, vol)
		}
		if aws.ToString(res.NextToken) == "" {
			return out, nil
		}
		in.NextToken = res.NextToken
	}
}

// busyVolumes are the volumes an unreleased lease names.
func (p *Pool) busyVolumes(ctx context.Context) (map[string]bool, error) {
	ins, err := p.leased(ctx)
	if err != nil {
		return nil, err
	}
	return busyIn(ins), nil
}

// busyIn are the volumes the unreleased leases ins name.
func busyIn(ins []instance) map[string]bool {
	busy := map[string]bool{}
	for _, in := range ins {
		if v := in.tags[TagDLC]; v != "" {
			busy[v] = true
		}
	}
	return busy
}

// free reports whether v may serve a new lease.
func (v volume) free(busy map[string]bool) bool {
	return v.state == types.VolumeStateAvailable && !busy[v.id]
}

// volumeFor picks the project's free volume or makes one. p.mu is held.
// token makes CreateVolume idempotent when the SDK re-sends it.
func (p *Pool) volumeFor(ctx context.Context, project string, held []instance, token string) (*volume, error) {
	if project == "" {
		return nil, errors.New("ec2pool: docker layer caching needs the request's project")
	}
	vols, err := p.volumes(ctx, project)
	if err != nil {
		return nil, err
	}
	busy := busyIn(held)
	sort.Slice(vols, func(i, j int) bool { return vols[i].lastUsed.After(vols[j].lastUsed) })
	now := p.cfg.Now().UTC().Format(time.RFC3339)
	for _, v := range vols {
		if v.project == project && v.free(busy) {
			_, err := p.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{v.id}, Tags: []types.Tag{
				{Key: aws.String(TagDLCLastUsed), Value: aws.String(now)}}})
			if err != nil {
				return nil, fmt.Errorf("ec2pool: claim DLC volume %s: %w", v.id, err)
			}
			return &v, nil
		}
	}
	zone := p.cfg.Zone
	if len(p.cfg.SubnetIDs) > 0 {
		if z := p.cfg.SubnetZones[p.nextSubnet("")]; z != "" {
			zone = z
		}
	}
	out, err := p.api.CreateVolume(ctx, &ec2.CreateVolumeInput{
		AvailabilityZone: aws.String(zone), Size: aws.Int32(p.cfg.DLC.SizeGiB), ClientToken: aws.String(token),
		VolumeType: types.VolumeType(p.cfg.DLC.VolumeType), Encrypted: aws.Bool(true),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: ec2Tags(map[string]string{
			TagInstallation: p.cfg.Installation, TagDLCProject: project, TagDLCLastUsed: now,
		})}},
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "VolumeLimitExceeded" || ae.ErrorCode() == "InsufficientVolumeCapacity") {
			return nil, launchError(PoolConfig{Name: "DLC volume"}, err)
		}
		return nil, fmt.Errorf("ec2pool: create a DLC volume for %s: %w", project, err)
	}
	p.cfg.Logger.Info("DLC volume created", "project", project, "volume_id", aws.ToString(out.VolumeId), "zone", zone)
	return &volume{id: aws.ToString(out.VolumeId), project: project, zone: zone, state: out.State}, nil
}

// attach attaches a volume to a new instance, now if it runs, else as soon
// as it does (in the background, for up to attachPatience).
func (p *Pool) attach(ctx context.Context, volID, instanceID string) {
	try := func(ctx context.Context) (bool, error) {
		_, err := p.api.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(volID),
			InstanceId: aws.String(instanceID), Device: aws.String(p.cfg.DLC.Device)})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "IncorrectState" {
			return false, nil // the instance still boots
		}
		return err == nil, err
	}
	ok, err := try(ctx)
	if ok || err != nil {
		if err != nil {
			p.cfg.Logger.Warn("attach the DLC volume: the job runs without its cache", "volume_id", volID, "lease_id", instanceID, "error", err)
		}
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attachPatience)
		defer cancel()
		for wait := time.Second; ctx.Err() == nil; wait = min(2*wait, 10*time.Second) {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			if ok, err := try(ctx); ok || err != nil {
				return
			}
		}
		p.cfg.Logger.Warn("the VM did not run in time to attach its DLC volume", "volume_id", volID, "lease_id", instanceID)
	}()
}

// attachPatience bounds the wait for a new VM to run before its volume is
// attached.
const attachPatience = 10 * time.Minute

// freeVolume clears a released lease's mark on its volume (best effort:
// the lease list is what decides whether a volume is free).
func (p *Pool) freeVolume(ctx context.Context, volID string) {
	_, err := p.api.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{volID}, Tags: []types.Tag{{Key: aws.String(TagDLCLease)}}})
	if err != nil && !notFound(err) {
		p.cfg.Logger.Warn("clear the DLC volume's lease tag", "volume_id", volID, "error", err)
	}
}

// markVolume records which task holds a volume, for operators.
func (p *Pool) markVolume(ctx context.Context, volID, taskID string) {
	_, err := p.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{volID},
		Tags: []types.Tag{{Key: aws.String(TagDLCLease), Value: aws.String(taskID)}}})
	if err != nil {
		p.cfg.Logger.Warn("tag the DLC volume with its task", "volume_id", volID, "error", err)
	}
}

// VolumeInfo is a DLC volume as the collector reports it.
type VolumeInfo struct {
	ID, Project, Zone string
	// Free: detached and named by no lease.
	Free     bool
	LastUsed time.Time
}

// Volumes lists the installation's DLC volumes.
func (p *Pool) Volumes(ctx context.Context) ([]VolumeInfo, error) {
	vols, err := p.volumes(ctx, "")
	if err != nil {
		return nil, err
	}
	busy, err := p.busyVolumes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]VolumeInfo, 0, len(vols))
	for _, v := range vols {
		out = append(out, VolumeInfo{ID: v.id, Project: v.project, Zone: v.zone, Free: v.free(busy), LastUsed: v.lastUsed})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
