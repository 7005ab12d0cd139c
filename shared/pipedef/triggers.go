package pipedef

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// Trigger providers, as CircleCI names them.
const (
	ProviderGitHubApp   = "github_app"
	ProviderGitHubOAuth = "github_oauth"
	ProviderWebhook     = "webhook"
)

// Trigger starts pipelines of a definition.
type Trigger struct {
	ID           string `json:"id"`
	ProjectSlug  string `json:"project_slug"`
	DefinitionID string `json:"definition_id"`
	Provider     string `json:"provider"`
	// EventName and Sender describe a custom webhook's events.
	EventName string `json:"event_name,omitempty"`
	Sender    string `json:"sender,omitempty"`
	// EventPreset filters repository events (github_app).
	EventPreset string `json:"event_preset,omitempty"`
	// CheckoutRef is the branch a webhook trigger's pipelines build (and
	// read their config from: Orbit reads config at the revision it builds).
	CheckoutRef string `json:"checkout_ref,omitempty"`
	Disabled    bool   `json:"disabled"`
	// SealedSecret is a webhook trigger's URL secret, sealed.
	SealedSecret []byte    `json:"sealed_secret,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// TriggerSpec is what a caller sets; nil fields are kept on update.
type TriggerSpec struct {
	Provider                       string // create only
	EventName, Sender, EventPreset *string
	CheckoutRef, ConfigRef         *string
	Disabled                       *bool
}

func newID() string { return uuid.NewString() }

func triggerAAD(id string) map[string]string {
	return map[string]string{"orbit:scope": "trigger/" + id, "orbit:name": "webhook-secret"}
}

func (sp TriggerSpec) apply(t *Trigger) error {
	if sp.ConfigRef != nil && sp.CheckoutRef != nil && *sp.ConfigRef != *sp.CheckoutRef {
		return invalid("config_ref %q differs from checkout_ref %q: Orbit reads a pipeline's config at the revision it checks out", *sp.ConfigRef, *sp.CheckoutRef)
	}
	if sp.CheckoutRef == nil && sp.ConfigRef != nil {
		sp.CheckoutRef = sp.ConfigRef
	}
	webhookOnly := t.Provider != ProviderWebhook
	if webhookOnly && (sp.EventName != nil || sp.Sender != nil || sp.Disabled != nil) {
		return invalid("event_name, event_source.webhook and disabled can only be set on webhook triggers")
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&t.EventName, sp.EventName)
	set(&t.Sender, sp.Sender)
	set(&t.EventPreset, sp.EventPreset)
	set(&t.CheckoutRef, sp.CheckoutRef)
	if sp.Disabled != nil {
		t.Disabled = *sp.Disabled
	}
	if t.Provider == ProviderWebhook && t.CheckoutRef == "" {
		return invalid("checkout_ref and config_ref are required on webhook triggers: the branch its pipelines build")
	}
	return nil
}

// CreateTrigger stores a trigger of a definition; a webhook trigger gets a
// secret for its URL.
func (s *Service) CreateTrigger(ctx context.Context, slug, defID string, sp TriggerSpec) (Trigger, error) {
	if _, err := s.GetDefinition(ctx, slug, defID); err != nil {
		return Trigger{}, err
	}
	switch sp.Provider {
	case ProviderGitHubApp, ProviderGitHubOAuth, ProviderWebhook:
	default:
		return Trigger{}, invalid("event_source.provider %q: want github_app, github_oauth or webhook", sp.Provider)
	}
	t := Trigger{ID: newID(), ProjectSlug: slug, DefinitionID: defID, Provider: sp.Provider, CreatedAt: s.cfg.Now().UTC()}
	if err := sp.apply(&t); err != nil {
		return Trigger{}, err
	}
	if t.Provider == ProviderWebhook {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		sealed, err := s.cfg.Sealer.Seal(ctx, []byte(hex.EncodeToString(b)), triggerAAD(t.ID))
		if err != nil {
			return Trigger{}, fmt.Errorf("seal the secret of trigger %s: %w", t.ID, err)
		}
		t.SealedSecret = sealed
	}
	it, err := record(pk(slug), "TRIGGER#"+t.ID, t)
	if err != nil {
		return Trigger{}, err
	}
	ptr, err := record("PIPEDEFTRIGGER#"+t.ID, "META", map[string]string{"project_slug": slug})
	if err != nil {
		return Trigger{}, err
	}
	err = s.cfg.KV.Transact(ctx, []kv.Op{
		{Kind: kv.OpPut, Item: it, Cond: kv.Condition{IfNotExists: true}},
		{Kind: kv.OpPut, Item: ptr, Cond: kv.Condition{IfNotExists: true}},
	})
	return t, err
}

// GetTrigger returns a trigger of the project.
func (s *Service) GetTrigger(ctx context.Context, slug, id string) (Trigger, error) {
	t, _, err := get[Trigger](ctx, s.cfg.KV, pk(slug), "TRIGGER#"+id, "trigger "+id)
	return t, err
}

// ListTriggers returns a definition's triggers.
func (s *Service) ListTriggers(ctx context.Context, slug, defID string) ([]Trigger, error) {
	if _, err := s.GetDefinition(ctx, slug, defID); err != nil {
		return nil, err
	}
	all, err := list[Trigger](ctx, s.cfg.KV, pk(slug), "TRIGGER#")
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if t.DefinitionID == defID {
			out = append(out, t)
		}
	}
	return out, nil
}

// UpdateTrigger changes the fields sp sets.
func (s *Service) UpdateTrigger(ctx context.Context, slug, id string, sp TriggerSpec) (Trigger, error) {
	for range 20 {
		t, ver, err := get[Trigger](ctx, s.cfg.KV, pk(slug), "TRIGGER#"+id, "trigger "+id)
		if err != nil {
			return Trigger{}, err
		}
		if err := sp.apply(&t); err != nil {
			return Trigger{}, err
		}
		it, err := record(pk(slug), "TRIGGER#"+id, t)
		if err != nil {
			return Trigger{}, err
		}
		if _, err = s.cfg.KV.Put(ctx, it, kv.Condition{IfVersion: ver}); errors.Is(err, kv.ErrConflict) {
			continue
		}
		return t, err
	}
	return Trigger{}, fmt.Errorf("trigger %s: too much contention", id)
}

// DeleteTrigger deletes a trigger.
func (s *Service) DeleteTrigger(ctx context.Context, slug, id string) error {
	if _, err := s.GetTrigger(ctx, slug, id); err != nil {
		return err
	}
	if err := s.cfg.KV.Delete(ctx, "PIPEDEFTRIGGER#"+id, "META", kv.Condition{}); err != nil {
		return err
	}
	return s.cfg.KV.Delete(ctx, pk(slug), "TRIGGER#"+id, kv.Condition{})
}

// WebhookPath is where a webhook trigger is invoked: POST
// <BaseURL>/webhooks/trigger/<id>?secret=<secret>.
const WebhookPath = "/webhooks/trigger/"

// WebhookURL is a webhook trigger's URL, secret included ("" for other
// providers).
func (s *Service) WebhookURL(ctx context.Context, t Trigger) (string, error) {
	if t.Provider != ProviderWebhook {
		return "", nil
	}
	secret, err := s.cfg.Sealer.Open(ctx, t.SealedSecret, triggerAAD(t.ID))
	if err != nil {
		return "", fmt.Errorf("open the secret of trigger %s: %w", t.ID, err)
	}
	return strings.TrimRight(s.cfg.BaseURL, "/") + WebhookPath + t.ID + "?secret=" + url.QueryEscape(string(secret)), nil
}

// Invoke starts a pipeline of a webhook trigger's definition on its
// checkout_ref, when secret is the trigger's: ErrForbidden otherwise (an
// unknown trigger too, so ids cannot be probed), ErrInvalid when the
// trigger is disabled.
func (s *Service) Invoke(ctx context.Context, id, secret string) (store.Pipeline, error) {
	ref, _, err := get[map[string]string](ctx, s.cfg.KV, "PIPEDEFTRIGGER#"+id, "META", "trigger "+id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Pipeline{}, ErrForbidden
	}
	if err != nil {
		return store.Pipeline{}, err
	}
	t, err := s.GetTrigger(ctx, ref["project_slug"], id)
	if errors.Is(err, store.ErrNotFound) || err == nil && t.Provider != ProviderWebhook {
		return store.Pipeline{}, ErrForbidden
	}
	if err != nil {
		return store.Pipeline{}, err
	}
	want, err := s.cfg.Sealer.Open(ctx, t.SealedSecret, triggerAAD(t.ID))
	if err != nil {
		return store.Pipeline{}, err
	}
	if subtle.ConstantTimeCompare(want, []byte(secret)) != 1 {
		return store.Pipeline{}, ErrForbidden
	}
	if t.Disabled {
		return store.Pipeline{}, invalid("trigger %s is disabled", id)
	}
	d, err := s.GetDefinition(ctx, t.ProjectSlug, t.DefinitionID)
	if err != nil {
		return store.Pipeline{}, err
	}
	return s.cfg.Trigger.Trigger(ctx, conductor.TriggerRequest{ProjectSlug: t.ProjectSlug, Branch: t.CheckoutRef,
		TriggerType: "webhook", ConfigPath: d.ConfigPath})
}
