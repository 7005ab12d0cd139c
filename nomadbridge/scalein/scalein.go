// Package scalein lets the Nomad client fleet's Auto Scaling group scale in
// without killing a build. The group's termination lifecycle hook holds a
// leaving instance in Terminating:Wait and notifies an SQS queue; the
// active bridge (leader only: Run is one of its active loops) drains the
// instance's Nomad node and lets the group terminate it once no build runs
// there, or at a deadline:
//
//	ASG scale-in ──▶ lifecycle hook (Terminating:Wait) ──▶ SQS lifecycle queue
//	Run: Receive ──▶ Parse ──test notification, other transition, malformed──▶ Delete
//	     │ (one handler per action token: an SQS redelivery refreshes its receipt;
//	     │  another copy of a token in hand or completed here is deleted)
//	     ▼
//	 find the node: attribute unique.platform.aws.instance-id (Nomad's EC2
//	     fingerprint) or node meta instance_id ──none──▶ CONTINUE, Delete
//	 Nodes.Drain(deadline left) ──▶ no new builds; Nomad stops stragglers at the deadline
//	 every PollInterval: Nodes.Busy ──none──▶ CompleteLifecycleAction CONTINUE, Delete
//	                       deadline passed ──▶ CompleteLifecycleAction ABANDON, Delete
//	                                          (logged with the builds still there)
//	 every HeartbeatInterval: RecordLifecycleActionHeartbeat, Extend the message
//	 the action is gone (completed elsewhere or timed out) ──▶ Delete
//
// ABANDON on a terminating hook still terminates the instance (AWS: "the
// instance is terminated either way"); it skips the group's other hooks and
// says, in the activity history, that the drain did not finish. Both
// results are final, so the deadline must stay within the hook's global
// timeout: 100 × its HeartbeatTimeout, at most 48 hours.
//
// Every step is idempotent, so a bridge that dies mid-drain loses nothing:
// the message becomes visible again, the next leader drains the node again
// (the remaining deadline counts from the notification's Time) and goes on
// waiting. A Nomad or AWS failure is logged and retried at the next poll.
package scalein

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/queue"
)

// Actions is the part of *autoscaling.Client the handler uses.
type Actions interface {
	CompleteLifecycleAction(ctx context.Context, in *autoscaling.CompleteLifecycleActionInput, optFns ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error)
	RecordLifecycleActionHeartbeat(ctx context.Context, in *autoscaling.RecordLifecycleActionHeartbeatInput, optFns ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error)
}

var _ Actions = (*autoscaling.Client)(nil)

// NodeAPI is the part of *api.Nodes the handler uses: the node operations
// of `orbit admin nodes`, and Info to read a node's attributes and meta.
type NodeAPI interface {
	nomadbridge.NomadNodes
	Info(nodeID string, q *api.QueryOptions) (*api.Node, *api.QueryMeta, error)
}

var _ NodeAPI = (*api.Nodes)(nil)

// Where a node's EC2 instance id is found.
const (
	// AttrInstanceID is set by Nomad's EC2 fingerprint on every client.
	AttrInstanceID = "unique.platform.aws.instance-id"
	// MetaInstanceID is node meta an operator (or a test) may set where the
	// fingerprint cannot run (IMDS blocked, or not EC2).
	MetaInstanceID = "instance_id"
)

// Lifecycle results.
const (
	Continue = "CONTINUE"
	Abandon  = "ABANDON"
)

// Metric counts completed actions, by dimension result (CONTINUE,
// ABANDON) and reason (drained, no_node, deadline).
const Metric = "orbit.fleet.scalein.completed"

// Clock is the handler's time source.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Config configures a Handler.
type Config struct {
	// Queue receives the lifecycle notifications (the hook's SQS target, or
	// an EventBridge rule's). Required.
	Queue queue.Queue
	// Actions completes and heartbeats lifecycle actions. Required.
	Actions Actions
	// Nodes is the Nomad node API. Required.
	Nodes NodeAPI
	// Region of every Nomad call ("" is the agent's).
	Region string
	// Deadline bounds the wait for a node's builds, from the notification's
	// time (default nomadbridge.DefaultDrainDeadline, the 5 h job timeout).
	// Nomad's drain stops what still runs at that moment.
	Deadline time.Duration
	// PollInterval is how often the node's allocations are checked
	// (default 10 s).
	PollInterval time.Duration
	// HeartbeatInterval is how often the action gets a heartbeat and the
	// message more invisibility (default 5 min: half the CDK hook's 10-min
	// heartbeat timeout).
	HeartbeatInterval time.Duration
	// Visibility is how long a message stays invisible after a receive or
	// a heartbeat (default 2 × HeartbeatInterval).
	Visibility time.Duration
	// ReceiveWait is the long-poll time (default 20 s).
	ReceiveWait time.Duration
	// Metrics counts completed actions (default: discarded).
	Metrics metrics.Sink
	// Logger receives every decision (default: discarded).
	Logger *slog.Logger
	// Clock is the time source (default: the real clock).
	Clock Clock
}

// Handler drains the nodes of terminating instances.
type Handler struct {
	cfg   Config
	nodes nomadbridge.Nodes
	log   *slog.Logger

	mu        sync.Mutex
	inFlight  map[string]*action // by action token
	done      map[string]bool    // tokens completed here (remember)
	doneOrder []string
	wg        sync.WaitGroup
}

// action is one lifecycle action being handled; receipt is its message's
// latest delivery.
type action struct {
	n       Notification
	msgID   string
	mu      sync.Mutex
	receipt string
}

func (a *action) latest() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.receipt
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Handler, error) {
	if cfg.Queue == nil || cfg.Actions == nil || cfg.Nodes == nil {
		return nil, errors.New("scalein: Config.Queue, Actions and Nodes are required")
	}
	if cfg.Deadline < 0 || cfg.PollInterval < 0 || cfg.HeartbeatInterval < 0 || cfg.Visibility < 0 {
		return nil, errors.New("scalein: negative Deadline, PollInterval, HeartbeatInterval or Visibility")
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&cfg.Deadline, nomadbridge.DefaultDrainDeadline)
	def(&cfg.PollInterval, 10*time.Second)
	def(&cfg.HeartbeatInterval, 5*time.Minute)
	def(&cfg.Visibility, 2*cfg.HeartbeatInterval)
	def(&cfg.ReceiveWait, 20*time.Second)
	if cfg.Visibility <= cfg.HeartbeatInterval {
		return nil, fmt.Errorf("scalein: Visibility (%v) must be longer than HeartbeatInterval (%v), or the message comes back while it is handled",
			cfg.Visibility, cfg.HeartbeatInterval)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Handler{cfg: cfg, nodes: nomadbridge.Nodes{API: cfg.Nodes, Region: cfg.Region,
		DrainMessage: "scale-in: the Auto Scaling group terminates this instance once its builds are done"}, log: cfg.Logger,
		inFlight: map[string]*action{}, done: map[string]bool{}}, nil
}

// Run receives notifications until ctx ends, then waits for the actions in
// hand to stop (they resume on the next leader) and returns nil.
func (h *Handler) Run(ctx context.Context) error {
	h.log.Info("scale-in: waiting for lifecycle notifications", "deadline", h.cfg.Deadline)
	backoff := time.Second
	for ctx.Err() == nil {
		msgs, err := h.cfg.Queue.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: h.cfg.ReceiveWait, Visibility: h.cfg.Visibility})
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("scale-in: receive lifecycle notifications", "error", err, "retry_in", backoff)
				h.sleep(ctx, backoff)
				backoff = min(2*backoff, time.Minute)
			}
			continue
		}
		backoff = time.Second
		for _, m := range msgs {
			h.accept(ctx, m)
		}
	}
	h.wg.Wait()
	return nil
}

// accept starts a handler for a message's action, or hands a redelivery's
// receipt to the one already running.
func (h *Handler) accept(ctx context.Context, m queue.Message) {
	n, err := Parse(m.Body)
	switch {
	case err != nil:
		h.log.Error("scale-in: malformed lifecycle notification, deleted", "message_id", m.ID, "error", err)
		h.delete(ctx, m.Receipt)
		return
	case n.Event == TestNotification:
		h.log.Info("scale-in: the group's test notification arrived", "asg", n.AutoScalingGroupName)
		h.delete(ctx, m.Receipt)
		return
	case n.LifecycleTransition != Terminating:
		h.log.Warn("scale-in: not a termination, deleted", "transition", n.LifecycleTransition, "asg", n.AutoScalingGroupName)
		h.delete(ctx, m.Receipt)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a, inFlight := h.inFlight[n.LifecycleActionToken]
	switch {
	case inFlight && a.msgID == m.ID: // SQS redelivered it: the newest receipt is the one to use
		a.mu.Lock()
		a.receipt = m.Receipt
		a.mu.Unlock()
		return
	case inFlight || h.done[n.LifecycleActionToken]: // another copy of an action handled here
		h.delete(ctx, m.Receipt)
		return
	}
	a = &action{n: n, msgID: m.ID, receipt: m.Receipt}
	h.inFlight[n.LifecycleActionToken] = a
	h.wg.Go(func() {
		completed := h.handle(ctx, a)
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.inFlight, n.LifecycleActionToken)
		if completed {
			h.remember(n.LifecycleActionToken)
		}
	})
}

// remember keeps the tokens of the last maxDone completed actions, so that
// a late copy of one is deleted without a call to Auto Scaling. h.mu held.
func (h *Handler) remember(token string) {
	if len(h.doneOrder) >= maxDone {
		delete(h.done, h.doneOrder[0])
		h.doneOrder = h.doneOrder[1:]
	}
	h.done[token] = true
	h.doneOrder = append(h.doneOrder, token)
}

const maxDone = 1000

func (h *Handler) delete(ctx context.Context, receipt string) {
	if err := h.cfg.Queue.Delete(ctx, receipt); err != nil && ctx.Err() == nil {
		h.log.Warn("scale-in: delete lifecycle notification", "error", err)
	}
}

func (h *Handler) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-h.cfg.Clock.After(d):
		return true
	}
}

// handle drains the action's node, waits and completes the action; it
// returns early, leaving the message for the next leader, when ctx ends.
// It reports whether the action is over (completed, or gone).
func (h *Handler) handle(ctx context.Context, a *action) bool {
	n := a.n
	log := h.log.With("asg", n.AutoScalingGroupName, "hook", n.LifecycleHookName, "instance_id", n.EC2InstanceId)
	start := n.Time
	if start.IsZero() || start.After(h.cfg.Clock.Now()) {
		start = h.cfg.Clock.Now()
	}
	deadline := start.Add(h.cfg.Deadline)
	nextBeat := h.cfg.Clock.Now().Add(h.cfg.HeartbeatInterval)
	var node nomadbridge.NodeStatus
	for {
		if node.ID == "" {
			found, err := h.findNode(ctx, n.EC2InstanceId)
			switch {
			case errors.Is(err, nomadbridge.ErrNodeNotFound):
				log.Info("scale-in: no Nomad node runs on the instance: nothing to drain")
				if h.complete(ctx, log, a, Continue, "no_node") {
					return true
				}
			case err != nil:
				log.Warn("scale-in: find the instance's Nomad node", "error", err)
			default:
				if err := h.nodes.Drain(ctx, found.ID, max(deadline.Sub(h.cfg.Clock.Now()), time.Second)); err != nil {
					log.Warn("scale-in: drain", "node_id", found.ID, "error", err)
				} else {
					node = found
					log = log.With("node_id", node.ID, "node", node.Name)
					log.Info("scale-in: draining the node: no new builds; running ones have until the deadline", "deadline", deadline)
				}
			}
		}
		if node.ID != "" {
			busy, err := h.nodes.Busy(ctx, node.ID)
			switch {
			case err != nil:
				log.Warn("scale-in: list the node's allocations", "error", err)
			case len(busy) == 0:
				log.Info("scale-in: no build runs on the node any more: releasing the instance")
				if h.complete(ctx, log, a, Continue, "drained") {
					return true
				}
			case !h.cfg.Clock.Now().Before(deadline):
				log.Warn("scale-in: the deadline passed with builds still on the node: abandoning the wait; the instance terminates and Nomad's drain stops them (Orbit retries them elsewhere)",
					"deadline", deadline, "still_running", len(busy), "jobs", jobIDs(busy))
				if h.complete(ctx, log, a, Abandon, "deadline") {
					return true
				}
			}
		}
		if ctx.Err() != nil {
			return false
		}
		if !h.cfg.Clock.Now().Before(nextBeat) {
			nextBeat = h.cfg.Clock.Now().Add(h.cfg.HeartbeatInterval)
			if gone := h.heartbeat(ctx, log, a); gone {
				return true
			}
		}
		if !h.sleep(ctx, min(h.cfg.PollInterval, max(nextBeat.Sub(h.cfg.Clock.Now()), 0))) {
			return false
		}
	}
}

// heartbeat keeps the action and the message alive; it reports whether
// the action is gone (then the message is deleted).
func (h *Handler) heartbeat(ctx context.Context, log *slog.Logger, a *action) bool {
	n := a.n
	_, err := h.cfg.Actions.RecordLifecycleActionHeartbeat(ctx, &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String(n.AutoScalingGroupName), LifecycleHookName: aws.String(n.LifecycleHookName),
		LifecycleActionToken: aws.String(n.LifecycleActionToken), InstanceId: aws.String(n.EC2InstanceId),
	})
	if isGone(err) {
		log.Warn("scale-in: the lifecycle action is no longer active (timed out, or completed elsewhere): the instance is leaving", "error", err)
		h.delete(ctx, a.latest())
		return true
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("scale-in: lifecycle heartbeat", "error", err)
	}
	if err := h.cfg.Queue.Extend(ctx, a.latest(), h.cfg.Visibility); err != nil && ctx.Err() == nil {
		log.Warn("scale-in: extend the lifecycle notification's visibility", "error", err)
	}
	return false
}

// complete completes the action and deletes its message; it reports
// whether that is done (false: retry at the next poll).
func (h *Handler) complete(ctx context.Context, log *slog.Logger, a *action, result, reason string) bool {
	n := a.n
	_, err := h.cfg.Actions.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: aws.String(n.AutoScalingGroupName), LifecycleHookName: aws.String(n.LifecycleHookName),
		LifecycleActionToken: aws.String(n.LifecycleActionToken), InstanceId: aws.String(n.EC2InstanceId),
		LifecycleActionResult: aws.String(result),
	})
	switch {
	case isGone(err):
		log.Warn("scale-in: the lifecycle action was no longer active when completed", "result", result, "error", err)
	case err != nil:
		if ctx.Err() == nil {
			log.Warn("scale-in: complete the lifecycle action, retrying", "result", result, "error", err)
		}
		return false
	default:
		log.Info("scale-in: lifecycle action completed", "result", result, "reason", reason)
		h.cfg.Metrics.Count(Metric, 1, metrics.Dimension{Name: "result", Value: result}, metrics.Dimension{Name: "reason", Value: reason})
	}
	h.delete(ctx, a.latest())
	return true
}

// isGone: Auto Scaling answers ValidationError ("No active Lifecycle Action
// found with instance ID …") once the action was completed or timed out.
func isGone(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError"
}

// findNode returns the node of an EC2 instance.
func (h *Handler) findNode(ctx context.Context, instanceID string) (nomadbridge.NodeStatus, error) {
	q := (&api.QueryOptions{Region: h.cfg.Region}).WithContext(ctx)
	stubs, _, err := h.cfg.Nodes.List(q)
	if err != nil {
		return nomadbridge.NodeStatus{}, fmt.Errorf("list Nomad nodes: %w", err)
	}
	for _, s := range stubs {
		node, _, err := h.cfg.Nodes.Info(s.ID, q)
		if err != nil {
			return nomadbridge.NodeStatus{}, fmt.Errorf("read Nomad node %s: %w", s.Name, err)
		}
		if node.Attributes[AttrInstanceID] == instanceID || node.Meta[MetaInstanceID] == instanceID {
			return nomadbridge.NodeStatus{ID: s.ID, Name: s.Name, Datacenter: s.Datacenter, NodeClass: s.NodeClass,
				Status: s.Status, Eligibility: s.SchedulingEligibility, Drain: s.Drain}, nil
		}
	}
	return nomadbridge.NodeStatus{}, fmt.Errorf("%w: no node runs on instance %s", nomadbridge.ErrNodeNotFound, instanceID)
}

func jobIDs(allocs []nomadbridge.NodeAlloc) string {
	ids := make([]string, len(allocs))
	for i, a := range allocs {
		ids[i] = a.JobID
	}
	return strings.Join(ids, ",")
}

// Notification fields and values, as Auto Scaling spells them.
const (
	Terminating      = "autoscaling:EC2_INSTANCE_TERMINATING"
	TestNotification = "autoscaling:TEST_NOTIFICATION"
)

// Notification is a lifecycle hook's message: the body Auto Scaling sends to
// an SQS target, or the detail of the EventBridge event "EC2 Instance-
// terminate Lifecycle Action".
type Notification struct {
	AutoScalingGroupName string
	LifecycleHookName    string
	LifecycleActionToken string
	LifecycleTransition  string
	EC2InstanceId        string //nolint:revive // Auto Scaling's spelling
	NotificationMetadata string
	// Time is when Auto Scaling sent it (zero if absent).
	Time time.Time
	// Event is TestNotification for the message Auto Scaling sends when
	// the hook is created ("" otherwise).
	Event string
}

// Parse decodes a notification from either source; a lifecycle message
// without its token, group, hook or instance is an error naming the field.
func Parse(body []byte) (Notification, error) {
	var envelope struct {
		Source string          `json:"source"`
		Time   time.Time       `json:"time"`
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return Notification{}, fmt.Errorf("lifecycle notification is not JSON: %w", err)
	}
	raw := body
	if envelope.Source == "aws.autoscaling" && len(envelope.Detail) > 0 {
		raw = envelope.Detail
	}
	var n Notification
	if err := json.Unmarshal(raw, &n); err != nil {
		return Notification{}, fmt.Errorf("lifecycle notification: %w", err)
	}
	if n.Time.IsZero() {
		n.Time = envelope.Time
	}
	if n.Event == TestNotification {
		return n, nil
	}
	for field, v := range map[string]string{"LifecycleActionToken": n.LifecycleActionToken, "AutoScalingGroupName": n.AutoScalingGroupName,
		"LifecycleHookName": n.LifecycleHookName, "EC2InstanceId": n.EC2InstanceId, "LifecycleTransition": n.LifecycleTransition} {
		if v == "" {
			return Notification{}, fmt.Errorf("lifecycle notification has no %s", field)
		}
	}
	return n, nil
}
