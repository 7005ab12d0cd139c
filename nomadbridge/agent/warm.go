package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/cacerts"
)

// Warm agents (`orbit agent --warm`, the seed's "prescale"): nomadbridge
// keeps a few agents already placed on Nomad, each waiting for one task.
// A warm agent has no task token in its environment; it asks the bridge
// for one, then runs the task exactly as a cold agent does and exits, so a
// warm agent never runs a second task (no state shared between builds).
//
// The claim protocol, served by the bridge (nomadbridge/warm_http.go) under
// ORBIT_WARM_CLAIM_URL, every request authenticated by
// "Authorization: Bearer <ORBIT_WARM_TOKEN>" (an HMAC of the warm agent's
// id, ORBIT_WARM_ID, under the bridge's secret):
//
//	POST /claim  {"warm_id"}           long poll (about 25 s)
//	     200 {"claim","token"}  a task is offered: accept it
//	     204                    nothing yet: poll again
//	     410                    this warm agent is retired: exit
//	POST /accept {"warm_id","claim"}
//	     200                    the task is this agent's: run it with token
//	     409                    the offer expired (the task went elsewhere):
//	                            claim again, nothing was run
//	other answers, network errors: retry after a short backoff (the bridge
//	may be restarting; both calls are idempotent)
//
// The bridge deletes the task's run-queue message only after answering 200
// to /accept, and falls back to a new Nomad job when no accept arrives in
// time, so a task is never lost and never runs twice.

// Environment of a warm agent (besides ORBIT_RUNNER_URL and the rest of a
// cold agent's, but without ORBIT_TASK_TOKEN).
const (
	EnvWarmClaimURL = "ORBIT_WARM_CLAIM_URL"
	EnvWarmToken    = "ORBIT_WARM_TOKEN"
	EnvWarmID       = "ORBIT_WARM_ID"
	// EnvWarmNode is the Nomad node the agent runs on, sent with each
	// claim so that the bridge keeps tasks off draining nodes.
	EnvWarmNode = "ORBIT_WARM_NODE"
)

// WarmRequest is the body of POST /claim and /accept.
type WarmRequest struct {
	WarmID string `json:"warm_id"`
	// Node is the Nomad node ID the agent runs on (/claim only).
	Node string `json:"node,omitempty"`
	// Claim is the offer being accepted (/accept only).
	Claim string `json:"claim,omitempty"`
}

// WarmOffer is the answer to POST /claim: a task offered to the agent.
type WarmOffer struct {
	Claim string `json:"claim"`
	// Token is the task's runner API token.
	Token string `json:"token"`
}

// ErrRetired: the bridge retired this warm agent (the pool shrank, or
// scaled to zero while idle); it exits without running anything.
var ErrRetired = errors.New("agent: warm agent retired by the bridge")

// WarmClient claims one task from the bridge.
type WarmClient struct {
	// URL is the claim base URL (ORBIT_WARM_CLAIM_URL).
	URL string
	// ID and Token identify the warm agent; Node is where it runs.
	ID, Token, Node string
	// HTTP makes the requests; it must not time out before the long poll
	// does (default: no overall timeout).
	HTTP *http.Client
	// Backoff is the wait after a failed request (default 200 ms, doubled up
	// to 5 s).
	Backoff time.Duration
	Logger  *slog.Logger
}

// Claim waits until the bridge hands this agent a task and the agent owns
// it, and returns the task's token. It returns ErrRetired when the bridge
// retires the agent, or ctx's error.
func (c WarmClient) Claim(ctx context.Context) (string, error) {
	if c.HTTP == nil {
		c.HTTP = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	first := c.Backoff
	if first <= 0 {
		first = 200 * time.Millisecond
	}
	wait := first
	backoff := func(what string, err error) error {
		c.Logger.Warn("warm agent: "+what+" failed; retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		return nil
	}
	for {
		code, body, err := c.post(ctx, "/claim", WarmRequest{WarmID: c.ID, Node: c.Node})
		switch {
		case ctx.Err() != nil:
			return "", ctx.Err()
		case err != nil:
			if err := backoff("claim", err); err != nil {
				return "", err
			}
			continue
		case code == http.StatusNoContent:
			wait = first
			continue
		case code == http.StatusGone:
			return "", ErrRetired
		case code != http.StatusOK:
			if err := backoff("claim", fmt.Errorf("bridge answered %d: %s", code, bytes.TrimSpace(body))); err != nil {
				return "", err
			}
			continue
		}
		var offer WarmOffer
		if err := json.Unmarshal(body, &offer); err != nil || offer.Claim == "" || offer.Token == "" {
			if err := backoff("claim", fmt.Errorf("malformed offer (%d bytes)", len(body))); err != nil {
				return "", err
			}
			continue
		}
		wait = first
		tok, again, err := c.accept(ctx, offer, backoff)
		if err != nil || !again {
			return tok, err
		}
	}
}

// accept accepts an offer, retrying until the bridge answers; again says
// the offer expired and the agent should claim again.
func (c WarmClient) accept(ctx context.Context, offer WarmOffer, backoff func(string, error) error) (tok string, again bool, err error) {
	for {
		code, body, err := c.post(ctx, "/accept", WarmRequest{WarmID: c.ID, Claim: offer.Claim})
		switch {
		case ctx.Err() != nil:
			return "", false, ctx.Err()
		case err == nil && code == http.StatusOK:
			return offer.Token, false, nil
		case err == nil && code == http.StatusConflict:
			c.Logger.Info("warm agent: the offered task went elsewhere; waiting for another")
			return "", true, nil
		case err == nil && code == http.StatusGone:
			return "", false, ErrRetired
		case err == nil:
			err = fmt.Errorf("bridge answered %d: %s", code, bytes.TrimSpace(body))
		}
		if err := backoff("accept", err); err != nil {
			return "", false, err
		}
	}
}

func (c WarmClient) post(ctx context.Context, path string, v any) (int, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, err
}

// claimWarm claims a task for the warm agent whose environment getenv
// reads (EnvWarmClaimURL, EnvWarmToken, EnvWarmID).
func claimWarm(ctx context.Context, getenv func(string) string, log *slog.Logger) (string, error) {
	c := WarmClient{URL: getenv(EnvWarmClaimURL), ID: getenv(EnvWarmID), Token: getenv(EnvWarmToken),
		Node: getenv(EnvWarmNode), Logger: log}
	if c.ID == "" || c.Token == "" {
		return "", fmt.Errorf("agent: a warm agent needs %s and %s besides %s", EnvWarmID, EnvWarmToken, EnvWarmClaimURL)
	}
	tr, err := cacerts.Transport(getenv(EnvCACertDir))
	if err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	c.HTTP = &http.Client{Transport: tr}
	log.Info("warm agent waiting for a task", "warm_id", c.ID)
	return c.Claim(ctx)
}

// withTaskToken is getenv with EnvTaskToken set to tok.
func withTaskToken(getenv func(string) string, tok string) func(string) string {
	return func(k string) string {
		if k == EnvTaskToken {
			return tok
		}
		return getenv(k)
	}
}
