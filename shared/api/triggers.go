package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/pipedef"
	"github.com/orbit-ci/orbit/shared/store"
)

// Triggers of pipeline definitions (definitions.go lists the routes).

type triggerWebhookJSON struct {
	URL    string `json:"url,omitempty"`
	Sender string `json:"sender,omitempty"`
}

type triggerSourceJSON struct {
	Provider string              `json:"provider"`
	Repo     *defRepoJSON        `json:"repo,omitempty"`
	Webhook  *triggerWebhookJSON `json:"webhook,omitempty"`
}

// defTriggerJSON is CircleCI's trigger (of a pipeline definition).
type defTriggerJSON struct {
	ID          string            `json:"id"`
	EventName   string            `json:"event_name,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	EventSource triggerSourceJSON `json:"event_source"`
	EventPreset string            `json:"event_preset,omitempty"`
	CheckoutRef string            `json:"checkout_ref,omitempty"`
	ConfigRef   string            `json:"config_ref,omitempty"`
	Disabled    bool              `json:"disabled"`
}

func (s *server) triggerView(r *http.Request, t pipedef.Trigger) (defTriggerJSON, error) {
	v := defTriggerJSON{ID: t.ID, EventName: t.EventName, CreatedAt: t.CreatedAt, EventPreset: t.EventPreset,
		CheckoutRef: t.CheckoutRef, ConfigRef: t.CheckoutRef, Disabled: t.Disabled,
		EventSource: triggerSourceJSON{Provider: t.Provider}}
	if t.Provider == pipedef.ProviderWebhook {
		u, err := s.cfg.Integrations.Definitions.WebhookURL(r.Context(), t)
		if err != nil {
			return v, err
		}
		v.EventSource.Webhook = &triggerWebhookJSON{URL: u, Sender: t.Sender}
	} else {
		_, org, repo := splitSlug(t.ProjectSlug)
		v.EventSource.Repo = &defRepoJSON{FullName: org + "/" + repo, ExternalID: t.ProjectSlug}
	}
	return v, nil
}

func (s *server) writeTrigger(w http.ResponseWriter, r *http.Request, t pipedef.Trigger) error {
	v, err := s.triggerView(r, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

type triggerBody struct {
	EventSource *struct {
		Provider string              `json:"provider"`
		Repo     *defRepoJSON        `json:"repo"`
		Webhook  *triggerWebhookJSON `json:"webhook"`
	} `json:"event_source"`
	EventPreset *string `json:"event_preset"`
	CheckoutRef *string `json:"checkout_ref"`
	ConfigRef   *string `json:"config_ref"`
	EventName   *string `json:"event_name"`
	Disabled    *bool   `json:"disabled"`
}

func (b triggerBody) spec(p store.Project) (pipedef.TriggerSpec, error) {
	sp := pipedef.TriggerSpec{EventPreset: b.EventPreset, CheckoutRef: b.CheckoutRef, ConfigRef: b.ConfigRef,
		EventName: b.EventName, Disabled: b.Disabled}
	if es := b.EventSource; es != nil {
		sp.Provider = es.Provider
		if es.Repo != nil {
			if err := ownRepo(p, "event_source", &defSourceJSON{Repo: es.Repo}); err != nil {
				return sp, err
			}
		}
		if es.Webhook != nil {
			sp.Sender = &es.Webhook.Sender
		}
	}
	return sp, nil
}

func (s *server) listTriggers(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	ts, err := s.cfg.Integrations.Definitions.ListTriggers(r.Context(), p.Slug, r.PathValue("pipeline_definition_id"))
	if err != nil {
		return err
	}
	items := make([]defTriggerJSON, 0, len(ts))
	for _, t := range ts {
		v, err := s.triggerView(r, t)
		if err != nil {
			return err
		}
		items = append(items, v)
	}
	writeJSON(w, http.StatusOK, itemsJSON[defTriggerJSON]{Items: items})
	return nil
}

func (s *server) createTrigger(w http.ResponseWriter, r *http.Request) error {
	return s.changeTrigger(w, r, true)
}

func (s *server) updateTrigger(w http.ResponseWriter, r *http.Request) error {
	return s.changeTrigger(w, r, false)
}

func (s *server) changeTrigger(w http.ResponseWriter, r *http.Request, create bool) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	var body triggerBody
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if create && body.EventSource == nil {
		return badRequest("event_source is required: {provider: github_app | github_oauth | webhook}")
	}
	sp, err := body.spec(p)
	if err != nil {
		return err
	}
	defs := s.cfg.Integrations.Definitions
	var t pipedef.Trigger
	if create {
		t, err = defs.CreateTrigger(r.Context(), p.Slug, r.PathValue("pipeline_definition_id"), sp)
	} else {
		if sp.Provider != "" {
			return badRequest("event_source.provider: a trigger's provider does not change")
		}
		t, err = defs.UpdateTrigger(r.Context(), p.Slug, r.PathValue("trigger_id"), sp)
	}
	if err != nil {
		return pipedefErr(err)
	}
	return s.writeTrigger(w, r, t)
}

func (s *server) getTrigger(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	t, err := s.cfg.Integrations.Definitions.GetTrigger(r.Context(), p.Slug, r.PathValue("trigger_id"))
	if err != nil {
		return err
	}
	return s.writeTrigger(w, r, t)
}

func (s *server) deleteTrigger(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Integrations.Definitions.DeleteTrigger(r.Context(), p.Slug, r.PathValue("trigger_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Trigger deleted."})
	return nil
}

// invokeTrigger is a custom webhook's delivery: its secret authenticates
// it.
func (s *server) invokeTrigger(w http.ResponseWriter, r *http.Request) error {
	p, err := s.cfg.Integrations.Definitions.Invoke(r.Context(), r.PathValue("trigger_id"), r.URL.Query().Get("secret"))
	if errors.Is(err, pipedef.ErrForbidden) {
		writeJSON(w, http.StatusUnauthorized, message{Message: "unknown trigger or wrong secret"})
		return nil
	}
	if err != nil {
		return pipedefErr(err)
	}
	writeJSON(w, http.StatusCreated, pipelineCreationJSON{ID: p.ID, State: p.State, Number: p.Number, CreatedAt: p.CreatedAt})
	return nil
}
