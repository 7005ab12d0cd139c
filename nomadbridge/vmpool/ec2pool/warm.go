package ec2pool

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// Preallocated VMs, the seed's "preallocated instances", kept as stopped
// instances (as an Auto Scaling warm pool keeps them): booted once with a
// user data that powers off at once, so the image is on the disk and
// cloud-init has run; a lease gives such an instance the task's user data
// and starts it, which takes seconds instead of a launch's minute.
//
//	warm launch (RunInstances, shutdown behaviour stop, orbit:state=warm)
//	   ─▶ boots, powers off ─▶ stopped: claimable
//	Lease ─▶ tag it the task's (orbit:state=claimed; listed Running)
//	      ─▶ ModifyInstanceAttribute userData ─▶ StartInstances
//	      ─▶ orbit:state=started (a stop from now on is the VM's end)
//	      ─▶ a replacement warm VM is launched
//
// A claimed VM serves that one lease and is terminated on Release, like an
// on-demand one: VMs are never reused. A Lease retried after a failure part
// way finds the claimed instance by its task tag and finishes the claim. The
// collector tops the pools up and replaces warm VMs older than a day (the
// seed's daily cycling).

// warm lists a pool's warm instances that are not terminated.
func (p *Pool) warm(ctx context.Context, pc PoolConfig) ([]instance, error) {
	ins, err := p.describe(ctx,
		types.Filter{Name: aws.String("tag:" + TagPool), Values: []string{pc.Name}},
		types.Filter{Name: aws.String("tag:" + TagState), Values: []string{stateWarm}})
	if err != nil {
		return nil, err
	}
	out := ins[:0]
	for _, in := range ins {
		_, released := in.tags[TagReleased]
		if !in.gone() && !released && in.tags[TagTaskID] == "" {
			out = append(out, in)
		}
	}
	return out, nil
}

// claimWarm claims a stopped warm instance of pc for r; a zero instance
// when none is ready. p.mu is held.
func (p *Pool) claimWarm(ctx context.Context, pc PoolConfig, r *vmpool.Request) (instance, error) {
	ws, err := p.warm(ctx, pc)
	if err != nil {
		return instance{}, err
	}
	for _, in := range ws {
		if in.state() != types.InstanceStateNameStopped {
			continue // still warming up
		}
		tags := p.requestTags(pc, *r, p.cfg.Now().Add(p.cfg.LeaseDuration), "")
		tags[TagState], tags[TagLeaseID] = stateClaimed, in.id()
		if _, err := p.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{in.id()}, Tags: ec2Tags(tags)}); err != nil {
			return instance{}, fmt.Errorf("ec2pool: claim warm VM %s: %w", in.id(), err)
		}
		maps.Copy(in.tags, tags)
		if err := p.finishClaim(ctx, pc, &in, r); err != nil {
			return instance{}, err
		}
		if _, err := p.launchWarm(ctx, pc); err != nil {
			p.cfg.Logger.Warn("launch a replacement warm VM (the collector retries)", "pool", pc.Name, "error", err)
		}
		return in, nil
	}
	return instance{}, nil
}

// finishClaim gives a claimed warm instance its task's user data and
// starts it; a no-op for an instance already started or launched on demand.
// r.Env gains what the pool adds for the VM (a remote Docker engine's TLS
// material, for the address the stopped VM keeps).
func (p *Pool) finishClaim(ctx context.Context, pc PoolConfig, in *instance, r *vmpool.Request) error {
	if in.tags[TagState] != stateClaimed {
		return nil
	}
	if pc.Purpose == vmpool.RemoteDocker && r.DockerTLS != nil {
		if err := serverMaterial(r, aws.ToString(in.PrivateIpAddress)); err != nil {
			return err
		}
	}
	ud, err := p.script.userData(string(pc.Purpose), r.Env)
	if err != nil {
		return fmt.Errorf("ec2pool: user data for task %s: %w", r.TaskID, err)
	}
	if in.state() == types.InstanceStateNameStopped {
		// The SDK base64-encodes this blob itself (RunInstances' string it
		// does not).
		blob := []byte(ud)
		if p.cfg.EncodeModifiedUserData {
			blob = []byte(base64.StdEncoding.EncodeToString(blob))
		}
		if _, err := p.api.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(in.id()),
			UserData: &types.BlobAttributeValue{Value: blob}}); err != nil {
			return fmt.Errorf("ec2pool: give warm VM %s its task: %w", in.id(), err)
		}
		if _, err := p.api.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{in.id()}}); err != nil {
			return launchError(pc, err)
		}
		in.State = &types.InstanceState{Name: types.InstanceStateNamePending}
	}
	p.envs.Store(in.id(), maps.Clone(r.Env))
	if _, err := p.api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{in.id()},
		Tags: []types.Tag{{Key: aws.String(TagState), Value: aws.String(stateStarted)}}}); err != nil {
		return fmt.Errorf("ec2pool: mark warm VM %s started: %w", in.id(), err)
	}
	in.tags[TagState] = stateStarted
	return nil
}

// launchWarm launches one warm instance of pc.
func (p *Pool) launchWarm(ctx context.Context, pc PoolConfig) (instance, error) {
	ud, err := p.script.userData("warm", nil)
	if err != nil {
		return instance{}, err
	}
	if _, err := p.sshGroup(ctx); err != nil {
		return instance{}, err
	}
	tags := map[string]string{TagInstallation: p.cfg.Installation, TagPool: pc.Name, TagPurpose: string(pc.Purpose), TagState: stateWarm}
	out, err := p.api.RunInstances(ctx, p.runInput(pc, p.nextSubnet(""), ud, tags, types.ShutdownBehaviorStop))
	if err != nil {
		return instance{}, launchError(pc, err)
	}
	in := out.Instances[0]
	p.cfg.Logger.Info("warm VM launched", "pool", pc.Name, "instance_id", aws.ToString(in.InstanceId))
	return instance{Instance: in, tags: tagMap(in.Tags)}, nil
}
