package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/store"
)

// Outbound webhooks, CircleCI's Webhook operations (shared/outhook
// delivers them). A webhook's project is named by its id in the scope;
// seeing one needs read access to the project, changing one admin access.
// The signing secret is answered as its mask, never in clear.
//
//	POST   /api/v2/webhook                {name, events, url, verify-tls, signing-secret, scope: {id, type: "project"}} → 201 Webhook
//	GET    /api/v2/webhook?scope-id=&scope-type=project   {items, next_page_token: null}
//	GET    /api/v2/webhook/{webhook_id}   Webhook
//	PUT    /api/v2/webhook/{webhook_id}   {name?, events?, url?, verify-tls?, signing-secret?} → Webhook
//	DELETE /api/v2/webhook/{webhook_id}   {message}
func (s *server) routeWebhooksOut(mux *http.ServeMux) {
	s.route(mux, "POST /api/v2/webhook", signedIn, s.api(s.createWebhook))
	s.route(mux, "GET /api/v2/webhook", signedIn, s.api(s.listWebhooks))
	s.route(mux, "GET /api/v2/webhook/{webhook_id}", signedIn, s.api(s.getWebhook))
	s.route(mux, "PUT /api/v2/webhook/{webhook_id}", signedIn, s.api(s.updateWebhook))
	s.route(mux, "DELETE /api/v2/webhook/{webhook_id}", signedIn, s.api(s.deleteWebhook))
}

// webhookJSON is CircleCI's Webhook.
type webhookJSON struct {
	ID            string       `json:"id"`
	Name          string       `json:"name"`
	URL           string       `json:"url"`
	Events        []string     `json:"events"`
	VerifyTLS     bool         `json:"verify-tls"`
	SigningSecret string       `json:"signing-secret"`
	Scope         webhookScope `json:"scope"`
	CreatedAt     time.Time    `json:"created-at"`
	UpdatedAt     time.Time    `json:"updated-at"`
}

type webhookScope struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func webhookView(w store.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, Name: w.Name, URL: w.URL, Events: w.Events, VerifyTLS: w.VerifyTLS,
		SigningSecret: w.MaskedSecret, Scope: webhookScope{ID: ids.Project(w.ProjectSlug), Type: "project"},
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// webhookBody is the create and update request.
type webhookBody struct {
	Name      *string       `json:"name"`
	Events    []string      `json:"events"`
	URL       *string       `json:"url"`
	VerifyTLS *bool         `json:"verify-tls"`
	Secret    *string       `json:"signing-secret"`
	Scope     *webhookScope `json:"scope,omitempty"`
}

func (b webhookBody) spec() outhook.Spec {
	return outhook.Spec{Name: b.Name, URL: b.URL, Events: b.Events, VerifyTLS: b.VerifyTLS, Secret: b.Secret}
}

// webhookProject resolves a webhook scope to its project and checks the
// caller's level on it.
func (s *server) webhookProject(r *http.Request, id, typ string, want accounts.Level) (store.Project, error) {
	if typ != "project" {
		return store.Project{}, badRequest("scope type %q: only project is supported", typ)
	}
	if id == "" {
		return store.Project{}, badRequest("scope id is required: the project's id")
	}
	p, err := s.projectByID(r.Context(), id)
	if err != nil {
		return store.Project{}, err
	}
	return p, s.requireOn(r.Context(), p.Slug, want)
}

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var body webhookBody
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Scope == nil {
		return badRequest("scope is required: {id: <project id>, type: project}")
	}
	p, err := s.webhookProject(r, body.Scope.ID, body.Scope.Type, accounts.Admin)
	if err != nil {
		return err
	}
	h, err := s.cfg.Integrations.Webhooks.Create(r.Context(), p.Slug, body.spec())
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusCreated, webhookView(h))
	return nil
}

func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := s.webhookProject(r, q.Get("scope-id"), q.Get("scope-type"), accounts.Read)
	if err != nil {
		return err
	}
	hs, err := s.cfg.Integrations.Webhooks.List(r.Context(), p.Slug)
	if err != nil {
		return err
	}
	writeList(w, hs, "", webhookView)
	return nil
}

// webhookFor loads the path's webhook and checks the caller's level on its
// project (404 for a caller who may not see it).
func (s *server) webhookFor(r *http.Request, want accounts.Level) (store.Webhook, error) {
	h, err := s.cfg.Integrations.Webhooks.Get(r.Context(), r.PathValue("webhook_id"))
	if err != nil {
		return h, err
	}
	return h, s.requireOn(r.Context(), h.ProjectSlug, want)
}

func (s *server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhookFor(r, accounts.Read)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookView(h))
	return nil
}

func (s *server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhookFor(r, accounts.Admin)
	if err != nil {
		return err
	}
	var body webhookBody
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Scope != nil {
		return badRequest("scope: a webhook's project does not change")
	}
	h, err = s.cfg.Integrations.Webhooks.Update(r.Context(), h.ID, body.spec())
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusOK, webhookView(h))
	return nil
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.webhookFor(r, accounts.Admin)
	if err != nil {
		return err
	}
	if err := s.cfg.Integrations.Webhooks.Delete(r.Context(), h.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Webhook deleted."})
	return nil
}

// webhookErr makes the webhook service's refusals 400s that say why.
func webhookErr(err error) error {
	var limit *store.LimitError
	if errors.Is(err, outhook.ErrInvalid) || errors.As(err, &limit) {
		return badRequest("%s", err.Error())
	}
	return err
}
