package ec2pool

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// Remote Docker engines with TLS (Request.DockerTLS). The engine's server
// certificate must name the VM's private address, which the user data
// carries; EC2 picks the address, so the pool gets one first:
//
//	on demand:    CreateNetworkInterface (subnet, security groups, tags
//	              orbit:installation + orbit:task-id, ClientToken)
//	              ─▶ its private IP ─▶ DockerTLS.Server(ip) ─▶ user data
//	              ─▶ RunInstances on that interface
//	preallocated: a warm VM keeps its private IP while stopped: the claim
//	              puts the certificate for it in the user data it gives
//	the collector deletes the installation's interfaces that no live
//	instance uses (a launch cut short, a terminated VM's: EC2 keeps an
//	interface made beforehand when its instance terminates)
//
// An engine is reached on its private address (Lease.Address), even when
// Config.PublicIP is set: jobs run inside the VPC, and EC2 gives no public
// IP to an interface made beforehand.

// serverMaterial adds the engine's TLS material for ip to r.Env.
func serverMaterial(r *vmpool.Request, ip string) error {
	m, err := r.DockerTLS.Server(ip)
	if err != nil {
		return fmt.Errorf("ec2pool: remote Docker certificate for task %s: %w", r.TaskID, err)
	}
	env := maps.Clone(r.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, m.ServerEnv())
	r.Env = env
	return nil
}

// needsInterface: an on-demand launch for r makes its network interface
// first.
func needsInterface(pc PoolConfig, r *vmpool.Request) bool {
	return pc.Purpose == vmpool.RemoteDocker && r.DockerTLS != nil
}

// engineInterface makes the network interface of r's VM in subnet (or the
// zone's default subnet) and gives r.Env the engine's material for its
// address.
func (p *Pool) engineInterface(ctx context.Context, r *vmpool.Request, subnet, zone, token string) (string, error) {
	if subnet == "" {
		var err error
		if subnet, err = p.defaultSubnet(ctx, zone); err != nil {
			return "", err
		}
	}
	out, err := p.api.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: aws.String(subnet), Groups: p.cfg.SecurityGroupIDs, ClientToken: aws.String(token),
		Description: aws.String("Orbit remote Docker engine of task " + r.TaskID),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeNetworkInterface,
			Tags: ec2Tags(map[string]string{TagInstallation: p.cfg.Installation, TagTaskID: r.TaskID})}},
	})
	if err != nil {
		return "", fmt.Errorf("ec2pool: network interface for task %s: %w", r.TaskID, err)
	}
	ni := out.NetworkInterface
	if ni == nil || aws.ToString(ni.PrivateIpAddress) == "" {
		return "", fmt.Errorf("ec2pool: network interface for task %s has no private address", r.TaskID)
	}
	return aws.ToString(ni.NetworkInterfaceId), serverMaterial(r, aws.ToString(ni.PrivateIpAddress))
}

// defaultSubnet is the default subnet of zone (no SubnetIDs configured).
func (p *Pool) defaultSubnet(ctx context.Context, zone string) (string, error) {
	out, err := p.api.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{
		{Name: aws.String("default-for-az"), Values: []string{"true"}},
		{Name: aws.String("availability-zone"), Values: []string{zone}}}})
	if err != nil {
		return "", fmt.Errorf("ec2pool: find the default subnet of %s: %w", zone, err)
	}
	if len(out.Subnets) == 0 {
		return "", fmt.Errorf("ec2pool: no default subnet in %s: set SubnetIDs", zone)
	}
	return aws.ToString(out.Subnets[0].SubnetId), nil
}

// onInterface makes a RunInstances input start on interface ni.
func onInterface(in *ec2.RunInstancesInput, ni string) {
	in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), NetworkInterfaceId: aws.String(ni)}}
}

// interfaces deletes the installation's network interfaces that no
// unreleased, live instance uses. Under p.mu, so no launch is between
// making an interface and starting its instance.
func (c *Collector) interfaces(ctx context.Context, rep *Report) error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	in := &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + TagInstallation), Values: []string{p.cfg.Installation}}}}
	var nis []types.NetworkInterface
	for {
		out, err := p.api.DescribeNetworkInterfaces(ctx, in)
		if err != nil {
			return fmt.Errorf("ec2pool: describe network interfaces: %w", err)
		}
		nis = append(nis, out.NetworkInterfaces...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(nis) == 0 {
		return nil
	}
	ins, err := p.describe(ctx)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, i := range ins {
		if _, released := i.tags[TagReleased]; !released && !i.gone() {
			live[i.id()] = true
		}
	}
	var errs []error
	for _, ni := range nis {
		if ni.Attachment != nil && live[aws.ToString(ni.Attachment.InstanceId)] {
			continue
		}
		id := aws.ToString(ni.NetworkInterfaceId)
		_, err := p.api.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)})
		if err != nil && !notFound(err) {
			// EC2 refuses while a terminating instance still holds it:
			// the next cycle deletes it.
			errs = append(errs, fmt.Errorf("ec2pool: delete network interface %s: %w", id, err))
			continue
		}
		rep.Interfaces = append(rep.Interfaces, id)
	}
	return errors.Join(errs...)
}
