// Package scaleintest gives the scale-in tests the part of Auto Scaling that
// moto lacks. moto 5.2.1 stores groups, instances and lifecycle hooks
// (PutLifecycleHook, DescribeLifecycleHooks) but has neither
// CompleteLifecycleAction nor RecordLifecycleActionHeartbeat, and it never
// fires a hook: a scale-in there terminates at once.
//
// Actions fills that gap on top of moto, as Auto Scaling behaves
// (documented in "Amazon EC2 Auto Scaling lifecycle hooks" and the API
// reference of the two calls):
//
//	Terminate(group, instance) ──▶ the group's termination hook (read from moto)
//	     puts the instance in Terminating:Wait with a fresh action token and
//	     sends the hook's notification to its target queue
//	RecordLifecycleActionHeartbeat ──▶ the action stays active
//	CompleteLifecycleAction CONTINUE | ABANDON ──▶ the action ends and the
//	     instance is terminated in moto (either result, for a terminating hook)
//	a call naming no active action (wrong token or instance, completed
//	     already) ──▶ ValidationError, as Auto Scaling answers
//
// Conformance note: no AWS emulator available to these tests implements the
// two calls, so the behaviours above (pinned by this package's test, on
// moto) are checked against this fake only, from AWS's documentation; they
// are the ones package scalein relies on. What the fake does not model:
// the hook's heartbeat and global timeouts (DefaultResult applied by time).
package scaleintest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"

	"github.com/orbit-ci/orbit/nomadbridge/scalein"
	"github.com/orbit-ci/orbit/shared/queue"
)

// ASG is the part of *autoscaling.Client (on moto) the fake uses.
type ASG interface {
	DescribeLifecycleHooks(ctx context.Context, in *autoscaling.DescribeLifecycleHooksInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error)
	DescribeAutoScalingInstances(ctx context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
	TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
}

// Call is one call the fake answered, in order.
type Call struct {
	Op, Instance, Result string
	Err                  error
}

// Actions is the fake; see the package comment.
type Actions struct {
	asg    ASG
	target queue.Queue
	// BeforeComplete, when set, runs at the start of each
	// CompleteLifecycleAction (a test checks what is true at that moment).
	BeforeComplete func(in *autoscaling.CompleteLifecycleActionInput)

	mu      sync.Mutex
	actions map[string]pending // by token
	calls   []Call
}

type pending struct{ group, hook, instance string }

var _ scalein.Actions = (*Actions)(nil)

// NewActions returns the fake over moto's Auto Scaling, sending
// notifications to target (the hook's SQS queue).
func NewActions(asg ASG, target queue.Queue) *Actions {
	return &Actions{asg: asg, target: target, actions: map[string]pending{}}
}

// Terminate starts what a scale-in of instance does in group: it returns
// the action's token once the notification is in the queue.
func (f *Actions) Terminate(ctx context.Context, group, instance string) (string, error) {
	hooks, err := f.asg.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(group)})
	if err != nil {
		return "", fmt.Errorf("describe lifecycle hooks of %s: %w", group, err)
	}
	hook := ""
	for _, h := range hooks.LifecycleHooks {
		if aws.ToString(h.LifecycleTransition) == scalein.Terminating {
			hook = aws.ToString(h.LifecycleHookName)
		}
	}
	if hook == "" {
		return "", fmt.Errorf("group %s has no termination hook", group)
	}
	if err := f.member(ctx, group, instance); err != nil {
		return "", err
	}
	token := rand.Text()
	body, err := json.Marshal(map[string]string{
		"Origin": "AutoScalingGroup", "Destination": "EC2", "Service": "AWS Auto Scaling",
		"Time": time.Now().UTC().Format(time.RFC3339Nano), "AccountId": "123456789012",
		"RequestId": rand.Text(), "LifecycleActionToken": token, "LifecycleTransition": scalein.Terminating,
		"EC2InstanceId": instance, "LifecycleHookName": hook, "AutoScalingGroupName": group,
	})
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.actions[token] = pending{group: group, hook: hook, instance: instance}
	f.mu.Unlock()
	if _, err := f.target.Send(ctx, body, queue.SendOptions{}); err != nil {
		return "", fmt.Errorf("send the lifecycle notification: %w", err)
	}
	return token, nil
}

func (f *Actions) member(ctx context.Context, group, instance string) error {
	out, err := f.asg.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{instance}})
	if err != nil {
		return fmt.Errorf("describe instance %s: %w", instance, err)
	}
	for _, i := range out.AutoScalingInstances {
		if aws.ToString(i.AutoScalingGroupName) == group {
			return nil
		}
	}
	return fmt.Errorf("instance %s is not in group %s", instance, group)
}

// find returns the active action a call names (by token, else by
// instance), or Auto Scaling's ValidationError.
func (f *Actions) find(group, hook, token, instance string) (string, pending, error) {
	for t, p := range f.actions {
		if p.group == group && p.hook == hook && (t == token || (token == "" && p.instance == instance)) {
			return t, p, nil
		}
	}
	return "", pending{}, &smithy.GenericAPIError{Code: "ValidationError",
		Message: fmt.Sprintf("No active Lifecycle Action found with token %s", token)}
}

// RecordLifecycleActionHeartbeat implements scalein.Actions.
func (f *Actions) RecordLifecycleActionHeartbeat(_ context.Context, in *autoscaling.RecordLifecycleActionHeartbeatInput, _ ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, err := f.find(aws.ToString(in.AutoScalingGroupName), aws.ToString(in.LifecycleHookName), aws.ToString(in.LifecycleActionToken), aws.ToString(in.InstanceId))
	f.calls = append(f.calls, Call{Op: "RecordLifecycleActionHeartbeat", Instance: aws.ToString(in.InstanceId), Err: err})
	if err != nil {
		return nil, err
	}
	return &autoscaling.RecordLifecycleActionHeartbeatOutput{}, nil
}

// CompleteLifecycleAction implements scalein.Actions: the instance leaves
// the group in moto.
func (f *Actions) CompleteLifecycleAction(ctx context.Context, in *autoscaling.CompleteLifecycleActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error) {
	if f.BeforeComplete != nil {
		f.BeforeComplete(in)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	result := aws.ToString(in.LifecycleActionResult)
	token, p, err := f.find(aws.ToString(in.AutoScalingGroupName), aws.ToString(in.LifecycleHookName), aws.ToString(in.LifecycleActionToken), aws.ToString(in.InstanceId))
	if err == nil && result != scalein.Continue && result != scalein.Abandon {
		err = &smithy.GenericAPIError{Code: "ValidationError", Message: "LifecycleActionResult must be CONTINUE or ABANDON"}
	}
	if err == nil {
		delete(f.actions, token)
		_, err = f.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
			InstanceId: aws.String(p.instance), ShouldDecrementDesiredCapacity: aws.Bool(true)})
		if err != nil {
			err = fmt.Errorf("terminate %s in moto: %w", p.instance, err)
		}
	}
	f.calls = append(f.calls, Call{Op: "CompleteLifecycleAction", Instance: aws.ToString(in.InstanceId), Result: result, Err: err})
	if err != nil {
		return nil, err
	}
	return &autoscaling.CompleteLifecycleActionOutput{}, nil
}

// Calls returns the calls answered so far, in order.
func (f *Actions) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}
