package ec2pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// Access to VMs, the seed's "Allowing Access to VM Service Instances":
// private by default (VMs have private addresses only, and no rule admits
// SSH). With Config.PublicIP every VM gets a public address and the
// pool's SSH security group (Config.SSHSecurityGroupID, or one the pool
// makes once per installation and VPC):
//
//	orbit-<installation>-vm-ssh (tag orbit:installation)
//	  ingress tcp vmpool.SSHPort from Config.SSHCIDRs
//
// where a machine job rerun with SSH listens (the agent's enable_ssh; the
// bridge gives the lease ORBIT_SSH_ADDR, and the VM's user data finds its
// public address in the instance metadata for the ssh line).

// sshGroupName is the installation's SSH security group.
func (p *Pool) sshGroupName() string { return "orbit-" + p.cfg.Installation + "-vm-ssh" }

// sshGroup returns the SSH security group, making it and its rule once;
// "" without PublicIP. p.mu is held.
func (p *Pool) sshGroup(ctx context.Context) (string, error) {
	if !p.cfg.PublicIP {
		return "", nil
	}
	if p.cfg.SSHSecurityGroupID != "" {
		p.sshSG = p.cfg.SSHSecurityGroupID
	}
	if p.sshSG != "" {
		return p.sshSG, nil
	}
	vpc, err := p.vpc(ctx)
	if err != nil {
		return "", err
	}
	name := p.sshGroupName()
	out, err := p.api.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: aws.String("group-name"), Values: []string{name}}, {Name: aws.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil {
		return "", fmt.Errorf("ec2pool: find the SSH security group: %w", err)
	}
	var id string
	if len(out.SecurityGroups) > 0 {
		id = aws.ToString(out.SecurityGroups[0].GroupId)
	} else {
		made, err := p.api.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), VpcId: aws.String(vpc),
			Description: aws.String("Orbit VM service: SSH into VMs of jobs rerun with SSH (port " + strconv.Itoa(vmpool.SSHPort) + ")"),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup,
				Tags: ec2Tags(map[string]string{TagInstallation: p.cfg.Installation})}}})
		if err != nil {
			return "", fmt.Errorf("ec2pool: create the SSH security group: %w", err)
		}
		id = aws.ToString(made.GroupId)
	}
	ranges := make([]types.IpRange, 0, len(p.cfg.SSHCIDRs))
	for _, c := range p.cfg.SSHCIDRs {
		ranges = append(ranges, types.IpRange{CidrIp: aws.String(c), Description: aws.String("SSH into Orbit VMs")})
	}
	_, err = p.api.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(vmpool.SSHPort),
			ToPort: aws.Int32(vmpool.SSHPort), IpRanges: ranges}}})
	var ae smithy.APIError
	if err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "InvalidPermission.Duplicate") {
		return "", fmt.Errorf("ec2pool: allow SSH in security group %s: %w", id, err)
	}
	p.cfg.Logger.Info("VMs are reachable by SSH", "security_group", id, "port", vmpool.SSHPort, "cidrs", p.cfg.SSHCIDRs)
	p.sshSG = id
	return id, nil
}

// vpc is the VPC the VMs start in: their first subnet's, else the
// account's default VPC.
func (p *Pool) vpc(ctx context.Context) (string, error) {
	if len(p.cfg.SubnetIDs) > 0 {
		out, err := p.api.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: p.cfg.SubnetIDs[:1]})
		if err != nil || len(out.Subnets) == 0 {
			return "", fmt.Errorf("ec2pool: find the VPC of subnet %s: %v", p.cfg.SubnetIDs[0], err)
		}
		return aws.ToString(out.Subnets[0].VpcId), nil
	}
	out, err := p.api.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	if err != nil || len(out.Vpcs) == 0 {
		return "", fmt.Errorf("ec2pool: find the default VPC (set SubnetIDs): %v", err)
	}
	return aws.ToString(out.Vpcs[0].VpcId), nil
}

// vmGroups are the security groups of a VM with a public address.
func (p *Pool) vmGroups() []string {
	if p.sshSG == "" || slices.Contains(p.cfg.SecurityGroupIDs, p.sshSG) {
		return p.cfg.SecurityGroupIDs
	}
	return append(slices.Clone(p.cfg.SecurityGroupIDs), p.sshSG)
}
