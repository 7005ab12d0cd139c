package compose

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/scalein"
	"github.com/orbit-ci/orbit/shared/queue/sqsqueue"
)

// scaleIn is the bridge's scale-in handler (package scalein) as a loop of
// the active bridge, when the aws shape names a lifecycle queue.
func (a *Assembly) scaleIn(nomad nomadbridge.Nomad) ([]func(context.Context) error, error) {
	if a.cfg.Shape != AWS || a.cfg.AWS.LifecycleQueueURL == "" {
		return nil, nil
	}
	nodes, ok := nomad.Nodes.(scalein.NodeAPI)
	if !ok {
		return nil, errors.New("scale-in: the Nomad client cannot drain nodes")
	}
	q, err := sqsqueue.New(sqs.NewFromConfig(*a.awsCfg), a.cfg.AWS.LifecycleQueueURL, sqsqueue.Config{})
	if err != nil {
		return nil, err
	}
	sink, err := a.Metrics()
	if err != nil {
		return nil, err
	}
	h, err := scalein.New(scalein.Config{Queue: q, Actions: autoscaling.NewFromConfig(*a.awsCfg), Nodes: nodes,
		Deadline: a.cfg.AWS.ScaleInDeadline, Metrics: sink, Logger: a.log.With("component", "scalein")})
	if err != nil {
		return nil, err
	}
	return []func(context.Context) error{h.Run}, nil
}
