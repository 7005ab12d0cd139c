package outhook

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/store"
)

// ErrInvalid: a webhook's fields are not acceptable (the API's 400); the
// message says which and why.
var ErrInvalid = errors.New("invalid webhook")

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Spec is what a caller sets on a webhook. On Update a nil field keeps
// what the webhook has.
type Spec struct {
	Name      *string
	URL       *string
	Events    []string
	VerifyTLS *bool
	// Secret is the signing secret in clear; it is sealed at once.
	Secret *string
}

// Create stores a new webhook of the project; every field is required.
func (s *Service) Create(ctx context.Context, projectSlug string, sp Spec) (store.Webhook, error) {
	switch {
	case sp.Name == nil:
		return store.Webhook{}, invalid("name is required")
	case sp.URL == nil:
		return store.Webhook{}, invalid("url is required")
	case sp.Events == nil:
		return store.Webhook{}, invalid("events is required")
	case sp.VerifyTLS == nil:
		return store.Webhook{}, invalid("verify-tls is required")
	case sp.Secret == nil:
		return store.Webhook{}, invalid("signing-secret is required")
	}
	w := store.Webhook{ID: uuid.NewString(), ProjectSlug: projectSlug}
	if err := s.apply(ctx, &w, sp); err != nil {
		return store.Webhook{}, err
	}
	return s.cfg.Records.CreateWebhook(ctx, w)
}

// Update changes the fields sp sets.
func (s *Service) Update(ctx context.Context, id string, sp Spec) (store.Webhook, error) {
	var sealed []byte
	if sp.Secret != nil { // seal outside the compare-and-set loop
		var err error
		if sealed, err = s.seal(ctx, id, *sp.Secret); err != nil {
			return store.Webhook{}, err
		}
	}
	return s.cfg.Records.UpdateWebhook(ctx, id, func(w *store.Webhook) error {
		sp := sp
		if sp.Secret != nil {
			w.SealedSecret, w.MaskedSecret = sealed, secrets.Mask(*sp.Secret)
			sp.Secret = nil
		}
		return s.apply(ctx, w, sp)
	})
}

// Get returns a webhook.
func (s *Service) Get(ctx context.Context, id string) (store.Webhook, error) {
	return s.cfg.Records.GetWebhook(ctx, id)
}

// List returns a project's webhooks.
func (s *Service) List(ctx context.Context, projectSlug string) ([]store.Webhook, error) {
	return s.cfg.Records.ListWebhooks(ctx, projectSlug)
}

// Delete deletes a webhook; deliveries already queued for it are dropped
// when their turn comes.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.cfg.Records.DeleteWebhook(ctx, id)
}

// MaxName bounds a webhook's name; MaxSecret its signing secret.
const (
	MaxName   = 100
	MaxSecret = 512
)

// apply checks and sets the fields sp gives.
func (s *Service) apply(ctx context.Context, w *store.Webhook, sp Spec) error {
	if sp.Name != nil {
		if *sp.Name == "" || len(*sp.Name) > MaxName {
			return invalid("name must be 1 to %d characters", MaxName)
		}
		w.Name = *sp.Name
	}
	if sp.URL != nil {
		u, err := url.Parse(*sp.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalid("url %q: give an absolute http or https URL, protocol included", *sp.URL)
		}
		w.URL = *sp.URL
	}
	if sp.Events != nil {
		if len(sp.Events) == 0 {
			return invalid("events: name at least one of %s, %s", store.EventWorkflowCompleted, store.EventJobCompleted)
		}
		for i, e := range sp.Events {
			if e != store.EventWorkflowCompleted && e != store.EventJobCompleted {
				return invalid("events[%d] %q: want %s or %s", i, e, store.EventWorkflowCompleted, store.EventJobCompleted)
			}
		}
		ev := slices.Clone(sp.Events)
		slices.Sort(ev)
		w.Events = slices.Compact(ev)
	}
	if sp.VerifyTLS != nil {
		w.VerifyTLS = *sp.VerifyTLS
	}
	if sp.Secret != nil {
		sealed, err := s.seal(ctx, w.ID, *sp.Secret)
		if err != nil {
			return err
		}
		w.SealedSecret, w.MaskedSecret = sealed, secrets.Mask(*sp.Secret)
	}
	return nil
}

// secretAAD binds a sealed signing secret to its webhook.
func secretAAD(id string) map[string]string {
	return map[string]string{"orbit:scope": "webhook/" + id, "orbit:name": "signing-secret"}
}

func (s *Service) seal(ctx context.Context, id, secret string) ([]byte, error) {
	if len(secret) > MaxSecret {
		return nil, invalid("signing-secret is %d bytes; the limit is %d", len(secret), MaxSecret)
	}
	b, err := s.cfg.Sealer.Seal(ctx, []byte(secret), secretAAD(id))
	if err != nil {
		return nil, fmt.Errorf("seal the signing secret of webhook %s: %w", id, err)
	}
	return b, nil
}

func (s *Service) open(ctx context.Context, w store.Webhook) ([]byte, error) {
	if len(w.SealedSecret) == 0 {
		return nil, nil
	}
	b, err := s.cfg.Sealer.Open(ctx, w.SealedSecret, secretAAD(w.ID))
	if err != nil {
		return nil, fmt.Errorf("open the signing secret of webhook %s: %w", w.ID, err)
	}
	return b, nil
}
