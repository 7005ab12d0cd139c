package outhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	vcspkg "github.com/orbit-ci/orbit/shared/vcs"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// Payload is CircleCI's outbound webhook body. Job is set on
// job-completed events only.
type Payload struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	HappenedAt time.Time       `json:"happened_at"`
	Webhook    PayloadWebhook  `json:"webhook"`
	Project    PayloadProject  `json:"project"`
	Org        PayloadOrg      `json:"organization"`
	Workflow   PayloadWorkflow `json:"workflow"`
	Pipeline   PayloadPipeline `json:"pipeline"`
	Job        *PayloadJob     `json:"job,omitempty"`
}

// PayloadWebhook names the webhook that delivers the event.
type PayloadWebhook struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// PayloadProject is the event's project.
type PayloadProject struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// PayloadOrg is the project's organization.
type PayloadOrg struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// PayloadWorkflow is the event's workflow.
type PayloadWorkflow struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	StoppedAt *time.Time `json:"stopped_at"`
	URL       string     `json:"url"`
}

// PayloadPipeline is the workflow's pipeline.
type PayloadPipeline struct {
	ID        string         `json:"id"`
	Number    int64          `json:"number"`
	CreatedAt time.Time      `json:"created_at"`
	Trigger   PayloadTrigger `json:"trigger"`
	VCS       PayloadVCS     `json:"vcs"`
}

// PayloadTrigger says what started the pipeline.
type PayloadTrigger struct {
	Type string `json:"type"`
}

// PayloadVCS is the pipeline's revision.
type PayloadVCS struct {
	ProviderName        string `json:"provider_name"`
	OriginRepositoryURL string `json:"origin_repository_url"`
	TargetRepositoryURL string `json:"target_repository_url"`
	Revision            string `json:"revision"`
	Branch              string `json:"branch,omitempty"`
	Tag                 string `json:"tag,omitempty"`
}

// PayloadJob is the event's job.
type PayloadJob struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Number    int64      `json:"number"`
	Status    string     `json:"status"`
	StartedAt *time.Time `json:"started_at"`
	StoppedAt *time.Time `json:"stopped_at"`
}

// outboxPK is the outbox's partition.
const outboxPK = "OUTHOOK#OUTBOX"

// delivery is an outbox item: one event for one webhook.
type delivery struct {
	ID        string `json:"id"`
	WebhookID string `json:"webhook_id"`
	Event     string `json:"event"`
	// Body is the payload as it is POSTed on every try.
	Body json.RawMessage `json:"body"`
	// Attempts counts the tries claimed so far.
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	CreatedAt time.Time `json:"created_at"`
	LastError string    `json:"last_error,omitempty"`
}

// WorkflowChanged implements store.Observer: a workflow that reaches a
// terminal status queues its workflow-completed deliveries.
func (s *Service) WorkflowChanged(ctx context.Context, from status.Workflow, w store.Workflow) {
	if !w.Status.Terminal() || from.Terminal() {
		return
	}
	s.queue(ctx, store.EventWorkflowCompleted, w.ProjectSlug, w.ID, w.PipelineID, func() (store.Workflow, *PayloadJob, error) {
		return w, nil, nil
	})
}

// JobChanged implements store.Observer: a build job that reaches a
// terminal status queues its job-completed deliveries (approval jobs are
// no jobs to CircleCI's webhooks, and a not_run job never ran).
func (s *Service) JobChanged(ctx context.Context, from status.Job, j store.Job) {
	if !j.Status.Terminal() || from.Terminal() || j.Type == "approval" || j.Status == status.JobNotRun {
		return
	}
	s.queue(ctx, store.EventJobCompleted, j.ProjectSlug, j.ID, j.PipelineID, func() (store.Workflow, *PayloadJob, error) {
		w, err := s.cfg.Records.GetWorkflow(ctx, j.WorkflowID)
		return w, &PayloadJob{ID: j.ID, Name: j.Name, Number: j.Number, Status: string(j.Status),
			StartedAt: j.StartedAt, StoppedAt: j.StoppedAt}, err
	})
}

// queue writes one delivery per subscribed webhook. It logs what it cannot
// do: an Observer must not fail the writer.
func (s *Service) queue(ctx context.Context, event, slug, subject, pipelineID string, load func() (store.Workflow, *PayloadJob, error)) {
	hooks, err := s.cfg.Records.ListWebhooks(ctx, slug)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "outbound webhooks: list failed; the event is not delivered", "project", slug, "event", event, "error", err)
		return
	}
	hooks = slices.DeleteFunc(hooks, func(h store.Webhook) bool { return !slices.Contains(h.Events, event) })
	if len(hooks) == 0 {
		return
	}
	if err := s.enqueue(ctx, hooks, event, subject, pipelineID, load); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "outbound webhooks: queueing failed; the event is not delivered", "project", slug,
			"event", event, "subject", subject, "error", err)
	}
}

func (s *Service) enqueue(ctx context.Context, hooks []store.Webhook, event, subject, pipelineID string, load func() (store.Workflow, *PayloadJob, error)) error {
	w, job, err := load()
	if err != nil {
		return err
	}
	p, err := s.cfg.Records.GetPipeline(ctx, pipelineID)
	if err != nil {
		return err
	}
	now := s.now()
	base := basePayload(p, w, job, s.cfg.BaseURL)
	base.Type, base.HappenedAt = event, now
	for _, h := range hooks {
		pl := base
		pl.ID = ids.Derive("outbound-webhook", h.ID, event, subject)
		pl.Webhook = PayloadWebhook{ID: h.ID, Name: h.Name}
		body, err := json.Marshal(pl)
		if err != nil {
			return err
		}
		d := delivery{ID: pl.ID, WebhookID: h.ID, Event: event, Body: body, NextAt: now, CreatedAt: now}
		data, err := json.Marshal(d)
		if err != nil {
			return err
		}
		_, err = s.cfg.KV.Put(ctx, kv.Item{PK: outboxPK, SK: d.ID, Data: data}, kv.Condition{IfNotExists: true})
		if err != nil && !errors.Is(err, kv.ErrConflict) { // a conflict: already queued
			return fmt.Errorf("queue delivery %s of webhook %s: %w", d.ID, h.ID, err)
		}
	}
	return nil
}

// basePayload is the part of a payload every webhook of the event shares.
func basePayload(p store.Pipeline, w store.Workflow, job *PayloadJob, baseURL string) Payload {
	slug := p.ProjectSlug
	owner := ids.Owner(slug)
	vcs, org, name := splitSlug(slug)
	return Payload{
		Project: PayloadProject{ID: ids.Project(slug), Name: name, Slug: slug},
		Org:     PayloadOrg{ID: ids.Org(owner), Name: org},
		Workflow: PayloadWorkflow{ID: w.ID, Name: w.Name, Status: string(w.Status), CreatedAt: w.CreatedAt,
			StoppedAt: w.StoppedAt, URL: strings.TrimRight(baseURL, "/") + "/ui/pipeline/" + p.ID},
		Pipeline: PayloadPipeline{ID: p.ID, Number: p.Number, CreatedAt: p.CreatedAt, Trigger: PayloadTrigger{Type: p.Trigger.Type},
			VCS: PayloadVCS{ProviderName: vcspkg.ProviderType(vcs), OriginRepositoryURL: p.VCS.OriginRepositoryURL,
				TargetRepositoryURL: p.VCS.OriginRepositoryURL, Revision: p.VCS.Revision, Branch: p.VCS.Branch, Tag: p.VCS.Tag}},
		Job: job,
	}
}

func splitSlug(slug string) (vcs, org, repo string) {
	parts := append(strings.SplitN(slug, "/", 3), "", "", "")
	return parts[0], parts[1], parts[2]
}
