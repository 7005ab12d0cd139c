package ec2pool

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
)

// lease makes the port's view of an instance.
func (p *Pool) lease(ctx context.Context, in instance) (vmpool.Lease, error) {
	env, err := p.env(ctx, in.id())
	if err != nil {
		return vmpool.Lease{}, err
	}
	t := in.tags
	r := vmpool.Request{TaskID: t[TagTaskID], ProjectSlug: t[TagProject], Purpose: vmpool.Purpose(t[TagPurpose]),
		Image: t[TagImage], ResourceClass: t[TagClass], DockerLayerCaching: t[TagDLC] != "", Env: env}
	for k, v := range t {
		if mk, ok := strings.CutPrefix(k, TagMetaPrefix); ok {
			if r.Meta == nil {
				r.Meta = map[string]string{}
			}
			r.Meta[mk] = v
		}
	}
	l := vmpool.Lease{ID: in.id(), Request: r, State: vmpool.Running}
	l.Cache = t[TagDLC]
	l.ExpiresAt, _ = time.Parse(time.RFC3339, t[TagExpiresAt])
	l.Address = aws.ToString(in.PrivateIpAddress)
	if _, tls := dockertls.ServerFromEnv(env); p.cfg.PublicIP && aws.ToString(in.PublicIpAddress) != "" && !tls {
		l.Address = aws.ToString(in.PublicIpAddress)
	}
	if r.Purpose == vmpool.RemoteDocker && l.Address != "" {
		l.Address = fmt.Sprintf("%s:%d", l.Address, DockerPort)
	}
	switch in.state() {
	case types.InstanceStateNamePending, types.InstanceStateNameRunning:
	case types.InstanceStateNameStopped, types.InstanceStateNameStopping:
		if t[TagState] == stateClaimed {
			break // a warm VM claimed, about to be started
		}
		fallthrough
	default:
		l.State = vmpool.Stopped
		l.Reason = fmt.Sprintf("instance %s is %s", in.id(), in.state())
		if in.StateReason != nil && aws.ToString(in.StateReason.Message) != "" {
			l.Reason += ": " + aws.ToString(in.StateReason.Message)
		} else if s := aws.ToString(in.StateTransitionReason); s != "" {
			l.Reason += ": " + s
		}
	}
	if l.State == vmpool.Running && !l.ExpiresAt.IsZero() && !p.cfg.Now().Before(l.ExpiresAt) {
		l.State = vmpool.Stopped
		l.Reason = fmt.Sprintf("the VM's lease expired at %s", l.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return l, nil
}

// env reads a lease's Request.Env from its instance's user data, once.
func (p *Pool) env(ctx context.Context, id string) (map[string]string, error) {
	if v, ok := p.envs.Load(id); ok {
		return maps.Clone(v.(map[string]string)), nil
	}
	out, err := p.api.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id),
		Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		return nil, fmt.Errorf("ec2pool: read the user data of %s: %w", id, err)
	}
	var env map[string]string
	if out.UserData != nil && aws.ToString(out.UserData.Value) != "" {
		raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.UserData.Value))
		if err != nil {
			return nil, fmt.Errorf("ec2pool: user data of %s: %w", id, err)
		}
		if env, err = ParseEnv(string(raw)); err != nil {
			return nil, fmt.Errorf("ec2pool: instance %s: %w", id, err)
		}
		delete(env, EnvDLCDevice)
	}
	p.envs.Store(id, env)
	return maps.Clone(env), nil
}
