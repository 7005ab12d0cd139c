package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Outbound webhooks (CircleCI's Webhook API): a project's subscriptions to
// its workflow-completed and job-completed events. shared/outhook delivers
// them; the signing secret is sealed by the secrets port before it gets
// here, so the store never holds it in clear.
//
//	WEBHOOK#<id>        META                      webhook (GSI1: PROJECT#<slug>#WEBHOOKS / <id>)

// Webhook events, as CircleCI names them.
const (
	EventWorkflowCompleted = "workflow-completed"
	EventJobCompleted      = "job-completed"
)

// MaxWebhooksPerProject is CircleCI's limit of outbound webhooks on one
// project.
const MaxWebhooksPerProject = 5

// Webhook is an outbound webhook of a project.
type Webhook struct {
	ID          string `json:"id"`
	ProjectSlug string `json:"project_slug"`
	Name        string `json:"name"`
	// URL receives the deliveries (POST, JSON).
	URL string `json:"url"`
	// Events are EventWorkflowCompleted and/or EventJobCompleted.
	Events []string `json:"events"`
	// VerifyTLS checks the receiver's certificate.
	VerifyTLS bool `json:"verify_tls"`
	// SealedSecret is the signing secret, sealed (shared/outhook opens it
	// to sign each delivery); MaskedSecret is how the API shows it.
	SealedSecret []byte    `json:"sealed_secret"`
	MaskedSecret string    `json:"masked_secret"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func webhookIndex(w *Webhook, it *kv.Item) {
	it.GSI1PK, it.GSI1SK = "PROJECT#"+w.ProjectSlug+"#WEBHOOKS", w.ID
}

// CreateWebhook stores a new webhook: ErrExists for a taken id, a
// *LimitError when the project already has MaxWebhooksPerProject.
func (s *Store) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	have, err := s.ListWebhooks(ctx, w.ProjectSlug)
	if err != nil {
		return Webhook{}, err
	}
	if len(have) >= MaxWebhooksPerProject {
		return Webhook{}, &LimitError{What: "outbound webhooks of project " + w.ProjectSlug, Limit: MaxWebhooksPerProject}
	}
	now := s.Now()
	w.CreatedAt, w.UpdatedAt = now, now
	it, err := item("WEBHOOK#"+w.ID, "META", w)
	if err != nil {
		return Webhook{}, err
	}
	webhookIndex(&w, &it)
	if err := s.create(ctx, it); err != nil {
		return Webhook{}, fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	return w, nil
}

// GetWebhook returns the webhook with the id.
func (s *Store) GetWebhook(ctx context.Context, id string) (Webhook, error) {
	var w Webhook
	if _, err := s.get(ctx, "WEBHOOK#"+id, "META", &w); err != nil {
		return Webhook{}, fmt.Errorf("webhook %s: %w", id, err)
	}
	return w, nil
}

// UpdateWebhook changes a webhook under a conditional write (fn may refuse
// with an error, which is returned); its project does not change.
func (s *Store) UpdateWebhook(ctx context.Context, id string, fn func(*Webhook) error) (Webhook, error) {
	w, err := update(ctx, s, "WEBHOOK#"+id, "META", webhookIndex, func(w *Webhook) error {
		slug := w.ProjectSlug
		if err := fn(w); err != nil {
			return err
		}
		w.ProjectSlug, w.UpdatedAt = slug, s.Now()
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return w, fmt.Errorf("webhook %s: %w", id, err)
	}
	return w, err
}

// ListWebhooks returns a project's webhooks by id.
func (s *Store) ListWebhooks(ctx context.Context, slug string) ([]Webhook, error) {
	return queryAll[Webhook](ctx, s, kv.Query{Index: kv.GSI1, PK: "PROJECT#" + slug + "#WEBHOOKS"})
}

// DeleteWebhook deletes a webhook, or returns ErrNotFound.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.deleteExisting(ctx, "WEBHOOK#"+id, "META")
}

// LimitError: a record would pass a limit on how many there may be.
type LimitError struct {
	What  string
	Limit int
}

func (e *LimitError) Error() string { return fmt.Sprintf("%s: at most %d", e.What, e.Limit) }
