package scaleintest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/scalein"
	"github.com/orbit-ci/orbit/nomadbridge/scalein/scaleintest"
	"github.com/orbit-ci/orbit/shared/queue"
)

func validation(t *testing.T, err error) {
	t.Helper()
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "want Auto Scaling's ValidationError, got %v", err)
	assert.Equal(t, "ValidationError", ae.ErrorCode())
}

// TestActionsBehaveAsAutoScaling pins what the fake promises (see the
// package comment), on moto.
func TestActionsBehaveAsAutoScaling(t *testing.T) {
	g, q := scaleintest.NewGroup(t, 2)
	ctx := t.Context()
	f := scaleintest.NewActions(g.ASG, q)
	inst := g.Instances[0]

	_, err := f.Terminate(ctx, g.Name, "i-00000000000000000")
	assert.Error(t, err, "an instance outside the group")

	token, err := f.Terminate(ctx, g.Name, inst)
	require.NoError(t, err)
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 1, Wait: time.Second})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	n, err := scalein.Parse(msgs[0].Body)
	require.NoError(t, err)
	assert.Equal(t, scalein.Notification{AutoScalingGroupName: g.Name, LifecycleHookName: g.Hook, LifecycleActionToken: token,
		LifecycleTransition: scalein.Terminating, EC2InstanceId: inst, Time: n.Time}, n)
	assert.False(t, n.Time.IsZero())

	hb := func(token, instance string) error {
		_, err := f.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
			AutoScalingGroupName: aws.String(g.Name), LifecycleHookName: aws.String(g.Hook),
			LifecycleActionToken: aws.String(token), InstanceId: aws.String(instance)})
		return err
	}
	complete := func(token, result string) error {
		_, err := f.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
			AutoScalingGroupName: aws.String(g.Name), LifecycleHookName: aws.String(g.Hook),
			LifecycleActionToken: aws.String(token), InstanceId: aws.String(inst), LifecycleActionResult: aws.String(result)})
		return err
	}
	require.NoError(t, hb(token, inst))
	require.NoError(t, hb("", inst), "the instance id alone names the action")
	validation(t, hb("not-a-token", inst))
	validation(t, complete(token, "MAYBE"))
	assert.True(t, g.InGroup(t, inst), "a refused completion changes nothing")

	require.NoError(t, complete(token, scalein.Continue))
	assert.False(t, g.InGroup(t, inst), "CONTINUE terminates the instance")
	assert.True(t, g.InGroup(t, g.Instances[1]))
	validation(t, complete(token, scalein.Continue))
	validation(t, hb(token, inst))

	// ABANDON on a terminating hook terminates too.
	token2, err := f.Terminate(ctx, g.Name, g.Instances[1])
	require.NoError(t, err)
	_, err = f.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(g.Name), LifecycleHookName: aws.String(g.Hook),
		LifecycleActionToken: aws.String(token2), InstanceId: aws.String(g.Instances[1]), LifecycleActionResult: aws.String(scalein.Abandon)})
	require.NoError(t, err)
	assert.False(t, g.InGroup(t, g.Instances[1]))
}
