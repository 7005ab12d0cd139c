package api

import (
	"context"
	"net/http"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/store"
)

// Continuer continues setup pipelines (dynamic config);
// *conductor.Conductor satisfies it. A bad or expired key is
// conductor.ErrBadContinuation (400), a used one conductor.ErrContinued
// (409), a config that does not compile conductor.ErrBadTrigger (400).
type Continuer interface {
	Continue(ctx context.Context, req conductor.ContinueRequest) (store.Pipeline, error)
}

var _ Continuer = (*conductor.Conductor)(nil)

// routeContinuation serves POST /api/v2/pipeline/continue when the
// Triggerer also continues pipelines (the conductor does). The continuation
// key in the body is the credential (ownAuth): the setup job that calls it
// has no user token, as on CircleCI.
func (s *server) routeContinuation(mux *http.ServeMux) {
	c, ok := s.cfg.Trigger.(Continuer)
	if !ok {
		return
	}
	s.route(mux, "POST /api/v2/pipeline/continue", ownAuth, s.api(func(w http.ResponseWriter, r *http.Request) error {
		return continuePipeline(c, w, r)
	}))
}

// continueRequest is CircleCI's body for POST /pipeline/continue.
type continueRequest struct {
	Key           string         `json:"continuation-key"`
	Configuration string         `json:"configuration"`
	Parameters    map[string]any `json:"parameters"`
}

func continuePipeline(c Continuer, w http.ResponseWriter, r *http.Request) error {
	var req continueRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Key == "" {
		return badRequest("continuation-key is required")
	}
	if req.Configuration == "" {
		return badRequest("configuration is required")
	}
	if err := checkParameters(req.Parameters); err != nil {
		return err
	}
	if _, err := c.Continue(r.Context(), conductor.ContinueRequest{Key: req.Key, Configuration: req.Configuration,
		Parameters: req.Parameters}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Pipeline continued."})
	return nil
}
