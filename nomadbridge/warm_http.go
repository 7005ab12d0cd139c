package nomadbridge

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
)

// WarmHandler serves the claim protocol of warm agents (agent/warm.go):
// POST /claim and POST /accept, relative to its mount point (mount it with
// http.StripPrefix at Config.Warm.ClaimURL's path). Without warm agents it
// answers 404.
func (b *Bridge) WarmHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /claim", b.warmClaim)
	mux.HandleFunc("POST /accept", b.warmAccept)
	return mux
}

func warmError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// warmRequest decodes and authenticates a request; it has answered when ok
// is false.
func (b *Bridge) warmRequest(w http.ResponseWriter, r *http.Request) (req agent.WarmRequest, ok bool) {
	if b.warm == nil {
		warmError(w, http.StatusNotFound, "this bridge has no warm agents")
		return req, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err != nil || json.Unmarshal(body, &req) != nil || req.WarmID == "" {
		warmError(w, http.StatusBadRequest, `want a JSON body {"warm_id": …}`)
		return req, false
	}
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || !hmac.Equal([]byte(tok), []byte(warmToken(b.warm.cfg.Secret, req.WarmID))) {
		warmError(w, http.StatusUnauthorized, "invalid warm agent token")
		return req, false
	}
	return req, true
}

func writeOffer(w http.ResponseWriter, o *warmOffer) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(agent.WarmOffer{Claim: o.claim, Token: o.msg.Token})
}

// warmClaim is the long poll of an idle warm agent.
func (b *Bridge) warmClaim(w http.ResponseWriter, r *http.Request) {
	req, ok := b.warmRequest(w, r)
	if !ok {
		return
	}
	p := b.warm
	timeout := b.cfg.Clock.After(p.cfg.ClaimWait)
	select {
	case <-p.ready:
	case <-timeout:
		w.WriteHeader(http.StatusNoContent)
		return
	case <-r.Context().Done():
		return
	}
	p.mu.Lock()
	a := p.agents[req.WarmID]
	switch {
	case a == nil || a.retired || a.state == warmBusy:
		p.mu.Unlock()
		warmError(w, http.StatusGone, "warm agent retired")
		return
	case a.state == warmOffered:
		// The answer to the previous poll was lost: offer it again.
		o := a.offer
		p.mu.Unlock()
		writeOffer(w, o)
		return
	case a.state == warmAccepting:
		p.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.seen = b.cfg.Clock.Now()
	if req.Node != "" {
		a.node = req.Node
	}
	if a.state != warmWaiting {
		a.state, a.wake = warmWaiting, make(chan struct{})
		p.waiting[a.class] = append(p.waiting[a.class], a)
	}
	wake := a.wake
	p.mu.Unlock()

	select {
	case <-wake:
	case <-timeout:
	case <-r.Context().Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a.seen = b.cfg.Clock.Now()
	switch {
	case a.state == warmOffered && a.offer != nil:
		writeOffer(w, a.offer)
	case a.retired:
		warmError(w, http.StatusGone, "warm agent retired")
	default:
		if a.state == warmWaiting && a.wake == wake {
			p.removeWaiting(a)
			a.state = warmStarting
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// warmAccept records that the agent takes its offered task. 200 means the
// agent owns the task; 409 that the offer is void (it may claim again).
func (b *Bridge) warmAccept(w http.ResponseWriter, r *http.Request) {
	req, ok := b.warmRequest(w, r)
	if !ok {
		return
	}
	p := b.warm
	p.mu.Lock()
	a := p.agents[req.WarmID]
	switch {
	case a == nil || a.retired:
		p.mu.Unlock()
		warmError(w, http.StatusGone, "warm agent retired")
		return
	case a.state == warmBusy && a.task != nil && a.task.Claim == req.Claim:
		p.mu.Unlock() // a retried accept (the answer was lost)
		w.WriteHeader(http.StatusOK)
		return
	case a.state == warmAccepting:
		p.mu.Unlock()
		warmError(w, http.StatusServiceUnavailable, "accept in progress; retry")
		return
	case a.state != warmOffered || a.offer == nil || a.offer.claim != req.Claim || a.offer.expired:
		p.mu.Unlock()
		warmError(w, http.StatusConflict, "the offer expired")
		return
	}
	o := a.offer
	a.state = warmAccepting
	p.mu.Unlock()

	m := o.msg
	t := warmTask{WarmJob: a.id, Claim: o.claim, Token: m.Token, TaskJob: m.NomadJobID(), TaskID: m.TaskID,
		JobID: m.JobID, PipelineID: m.PipelineID, WorkflowID: m.WorkflowID, Index: m.Index}
	err := b.recordWarm(r.Context(), t)

	p.mu.Lock()
	defer p.mu.Unlock()
	a.offer = nil
	switch {
	case err == nil:
		a.state, a.task = warmBusy, &t
		p.byTask[t.TaskJob] = a.id
		o.result <- warmAccepted
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, errWarmTaken):
		a.state = warmStarting
		o.result <- warmDuplicate
		warmError(w, http.StatusConflict, "the task is already on another warm agent")
	default:
		a.state = warmStarting
		o.result <- warmFailed
		b.log.Warn("cannot record a warm agent's task; it goes cold", "nomad_job_id", a.id, "error", err)
		warmError(w, http.StatusConflict, "the task could not be recorded; it went elsewhere")
	}
}
