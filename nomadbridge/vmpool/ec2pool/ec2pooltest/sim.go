// Package ec2pooltest plays the VMs of an ec2pool installation on moto,
// which starts no machine: a Simulator watches the installation's
// instances and, for each one that runs, does what its user data would do
// on a real VM. A task's VM runs Boot with the environment block of its
// user data (read back with DescribeInstanceAttribute, as the VM's
// cloud-init reads it from the instance metadata) — in tests the real
// build agent, which calls the runner API — and then powers off, as the
// script's `shutdown -h now` does: terminated for an on-demand VM, stopped
// for a preallocated one. A warm VM powers off at once. A VM terminated by
// someone else (Release, the collector) has its Boot canceled.
package ec2pooltest

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
)

// API is what the simulator calls; *ec2.Client satisfies it.
type API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeInstanceAttribute(ctx context.Context, in *ec2.DescribeInstanceAttributeInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error)
	StopInstances(ctx context.Context, in *ec2.StopInstancesInput, opts ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
	TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, opts ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
}

// Boot is what a task's VM runs: purpose says which (machine: the agent),
// env is its user data's environment. It returns when the work is done or
// ctx ends (the VM was terminated).
type Boot func(ctx context.Context, purpose vmpool.Purpose, env map[string]string) error

// VM is what a booting instance knows of itself (its instance metadata).
type VM struct {
	ID      string
	Purpose vmpool.Purpose
	// PrivateIP and PublicIP are its addresses (PublicIP "" for none).
	PrivateIP, PublicIP string
}

// BootVM is a Boot that also gets the VM's metadata.
type BootVM func(ctx context.Context, vm VM, env map[string]string) error

// Simulator runs the VMs of one installation. Create it with Start.
type Simulator struct {
	api          API
	installation string
	boot         BootVM
	cancel       context.CancelFunc
	done         chan struct{}

	mu      sync.Mutex
	running map[string]*vm // by instance ID (a boot of that instance)
	// booted marks the boots made, by instance ID and whether with a
	// task: a poll's list may predate the end of a boot, and must not
	// boot the instance again (a warm VM boots twice: warm, then its task).
	booted map[string]bool
	boots  int
	errs   []error
}

type vm struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts simulating; Stop ends it.
func Start(api API, installation string, boot Boot) *Simulator {
	return StartVM(api, installation, func(ctx context.Context, vm VM, env map[string]string) error {
		return boot(ctx, vm.Purpose, env)
	})
}

// StartVM is Start with a boot that gets the VM's metadata.
func StartVM(api API, installation string, boot BootVM) *Simulator {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Simulator{api: api, installation: installation, boot: boot, cancel: cancel, done: make(chan struct{}),
		running: map[string]*vm{}, booted: map[string]bool{}}
	go s.loop(ctx)
	return s
}

// Stop cancels every boot and waits for them.
func (s *Simulator) Stop() {
	s.cancel()
	<-s.done
}

// Boots counts the task boots so far.
func (s *Simulator) Boots() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boots
}

// Errors are the simulator's own failures (EC2 calls), for the test to
// check.
func (s *Simulator) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

func (s *Simulator) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *Simulator) loop(ctx context.Context) {
	defer close(s.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		s.poll(ctx, &wg)
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.mu.Lock()
	for _, v := range s.running {
		v.cancel()
	}
	s.mu.Unlock()
}

func (s *Simulator) poll(ctx context.Context, wg *sync.WaitGroup) {
	out, err := s.api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + ec2pool.TagInstallation), Values: []string{s.installation}}}})
	if err != nil {
		if ctx.Err() == nil {
			s.fail(err)
		}
		return
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			id := aws.ToString(in.InstanceId)
			state := types.InstanceStateName("")
			if in.State != nil {
				state = in.State.Name
			}
			s.mu.Lock()
			v := s.running[id]
			s.mu.Unlock()
			switch {
			case v != nil && state != types.InstanceStateNameRunning && state != types.InstanceStateNamePending:
				v.cancel() // terminated or stopped under it
			case v == nil && state == types.InstanceStateNameRunning:
				s.start(ctx, wg, in)
			}
		}
	}
}

// start boots a running instance once per start (a warm VM that is
// started again boots again, with its new user data).
func (s *Simulator) start(ctx context.Context, wg *sync.WaitGroup, in types.Instance) {
	id := aws.ToString(in.InstanceId)
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if _, released := tags[ec2pool.TagReleased]; released {
		return
	}
	if tags[ec2pool.TagTaskID] != "" && tags[ec2pool.TagLeaseID] == "" {
		// Not acknowledged by the pool yet, or never: moto ignores
		// RunInstances' ClientToken, so a launch the SDK re-sent makes a
		// second instance EC2 would not have made; the pool terminates it
		// (dropDuplicates) and it must not run the task.
		return
	}
	attr, err := s.api.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id),
		Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		s.fail(err)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value))
	if err != nil {
		s.fail(err)
		return
	}
	env, err := ec2pool.ParseEnv(string(raw))
	if err != nil {
		s.fail(err)
		return
	}
	key := fmt.Sprintf("%s/%t", id, env != nil)
	vctx, cancel := context.WithCancel(ctx)
	v := &vm{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.booted[key] || s.running[id] != nil {
		s.mu.Unlock()
		cancel()
		return
	}
	s.booted[key] = true
	s.running[id] = v
	if env != nil {
		s.boots++
	}
	s.mu.Unlock()
	// A preallocated VM (warm, or claimed from the warm pool) stops when
	// it powers off; an on-demand one terminates.
	stop := tags[ec2pool.TagState] != ""
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, id)
			s.mu.Unlock()
			cancel()
		}()
		if env != nil {
			vm := VM{ID: id, Purpose: vmpool.Purpose(tags[ec2pool.TagPurpose]),
				PrivateIP: aws.ToString(in.PrivateIpAddress), PublicIP: aws.ToString(in.PublicIpAddress)}
			_ = s.boot(vctx, vm, env)
		}
		if vctx.Err() != nil {
			return // terminated under it: nothing left to power off
		}
		s.powerOff(ctx, id, stop)
	}()
}

func (s *Simulator) powerOff(ctx context.Context, id string, stop bool) {
	var err error
	if stop {
		_, err = s.api.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	} else {
		_, err = s.api.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	}
	if err != nil && ctx.Err() == nil {
		s.fail(err)
	}
}
