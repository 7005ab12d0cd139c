package scaleintest

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/orbit-ci/orbit/shared/queue/sqsqueue"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// Group is a Nomad client group in moto: one instance and a termination
// hook, deleted when the test ends.
type Group struct {
	Name, Hook string
	Instances  []string
	ASG        *autoscaling.Client
}

// NewGroup creates a group of n instances with a termination hook in moto
// (ORBIT_MOTO_ENDPOINT), and an SQS queue for the hook's notifications.
func NewGroup(t *testing.T, n int) (Group, *sqsqueue.Queue) {
	t.Helper()
	cfg := testenv.AWS(t, "ORBIT_MOTO_ENDPOINT")
	ctx := t.Context()
	c := autoscaling.NewFromConfig(cfg)
	name := "orbit-clients-" + strings.ToLower(rand.Text()[:10])
	fail := func(what string, err error) {
		if err != nil {
			t.Fatalf("moto: %s: %v", what, err)
		}
	}
	_, err := c.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{
		LaunchConfigurationName: aws.String(name), ImageId: aws.String("ami-12c6146b"), InstanceType: aws.String("m5.xlarge")})
	fail("create launch configuration", err)
	_, err = c.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), LaunchConfigurationName: aws.String(name),
		MinSize: aws.Int32(0), MaxSize: aws.Int32(int32(n)), DesiredCapacity: aws.Int32(int32(n)),
		AvailabilityZones: []string{"us-east-1a"}})
	fail("create group", err)
	t.Cleanup(func() {
		bg := context.Background()
		_, _ = c.DeleteAutoScalingGroup(bg, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(true)})
		_, _ = c.DeleteLaunchConfiguration(bg, &autoscaling.DeleteLaunchConfigurationInput{LaunchConfigurationName: aws.String(name)})
	})

	sc := sqs.NewFromConfig(cfg)
	url, err := sqsqueue.CreateQueue(ctx, sc, name+"-lifecycle", sqsqueue.CreateOptions{})
	fail("create lifecycle queue", err)
	t.Cleanup(func() { _, _ = sc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	q, err := sqsqueue.New(sc, url, sqsqueue.Config{})
	fail("lifecycle queue", err)

	_, err = c.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{
		AutoScalingGroupName: aws.String(name), LifecycleHookName: aws.String("drain"),
		LifecycleTransition: aws.String("autoscaling:EC2_INSTANCE_TERMINATING"), DefaultResult: aws.String("CONTINUE"),
		HeartbeatTimeout: aws.Int32(600), NotificationTargetARN: aws.String("arn:aws:sqs:us-east-1:123456789012:" + name + "-lifecycle"),
		RoleARN: aws.String("arn:aws:iam::123456789012:role/orbit-lifecycle")})
	fail("put lifecycle hook", err)

	out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	fail("describe group", err)
	g := Group{Name: name, Hook: "drain", ASG: c}
	for _, grp := range out.AutoScalingGroups {
		for _, i := range grp.Instances {
			g.Instances = append(g.Instances, aws.ToString(i.InstanceId))
		}
	}
	if len(g.Instances) != n {
		t.Fatalf("moto started %d instances in %s, want %d", len(g.Instances), name, n)
	}
	return g, q
}

// InGroup reports whether instance is still a member of the group.
func (g Group) InGroup(t *testing.T, instance string) bool {
	t.Helper()
	out, err := g.ASG.DescribeAutoScalingInstances(t.Context(), &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{instance}})
	if err != nil {
		t.Fatalf("moto: describe instance %s: %v", instance, err)
	}
	for _, i := range out.AutoScalingInstances {
		if aws.ToString(i.AutoScalingGroupName) == g.Name {
			return true
		}
	}
	return false
}
