package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	gh "github.com/google/go-github/v93/github"
)

// Events are the webhook events a followed repository sends.
var Events = []string{"push", "pull_request"}

// Following is what following a repository created on GitHub, kept with
// the project so unfollowing removes it.
type Following struct {
	HookID int64 `json:"hook_id"`
	KeyID  int64 `json:"key_id"`
}

// Follow creates owner/repo's webhook (JSON deliveries of Events to
// webhookURL, signed with secret) and adds publicKey (an OpenSSH public
// key; its private half stays sealed in Orbit's vault) as a read-only
// deploy key titled title. When the key fails the webhook is removed
// again, so a failed follow leaves nothing behind.
func (d *Driver) Follow(ctx context.Context, token, owner, repo, webhookURL, secret, publicKey, title string) (Following, error) {
	c := d.client(token)
	hook, _, err := c.Repositories.CreateHook(ctx, owner, repo, &gh.Hook{
		Name: gh.Ptr("web"), Active: gh.Ptr(true), Events: Events,
		Config: &gh.HookConfig{URL: gh.Ptr(webhookURL), ContentType: gh.Ptr("json"), Secret: gh.Ptr(secret), InsecureSSL: gh.Ptr("0")},
	})
	if err != nil {
		return Following{}, fmt.Errorf("create webhook on %s/%s: %w", owner, repo, err)
	}
	key, _, err := c.Repositories.CreateKey(ctx, owner, repo, gh.CreateDeployKeyRequest{Title: gh.Ptr(title), Key: publicKey, ReadOnly: gh.Ptr(true)})
	if err != nil {
		if _, derr := c.Repositories.DeleteHook(ctx, owner, repo, hook.GetID()); derr != nil {
			err = errors.Join(err, fmt.Errorf("remove the webhook again: %w", derr))
		}
		return Following{}, fmt.Errorf("add deploy key to %s/%s: %w", owner, repo, err)
	}
	return Following{HookID: hook.GetID(), KeyID: key.GetID()}, nil
}

// Unfollow removes what Follow created. Already removed (404) is fine.
func (d *Driver) Unfollow(ctx context.Context, token, owner, repo string, f Following) error {
	c := d.client(token)
	var errs []error
	if f.HookID != 0 {
		if _, err := c.Repositories.DeleteHook(ctx, owner, repo, f.HookID); err != nil && statusOf(err) != http.StatusNotFound {
			errs = append(errs, fmt.Errorf("remove webhook %d from %s/%s: %w", f.HookID, owner, repo, err))
		}
	}
	if f.KeyID != 0 {
		if _, err := c.Repositories.DeleteKey(ctx, owner, repo, f.KeyID); err != nil && statusOf(err) != http.StatusNotFound {
			errs = append(errs, fmt.Errorf("remove deploy key %d from %s/%s: %w", f.KeyID, owner, repo, err))
		}
	}
	return errors.Join(errs...)
}

// Commit status states.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// SetStatus posts a commit status on sha (with Config.Token). GitHub keeps
// the newest status of each context.
func (d *Driver) SetStatus(ctx context.Context, owner, repo, sha, state, context, targetURL, description string) error {
	if len(description) > 140 { // GitHub's limit
		description = description[:137] + "..."
	}
	_, _, err := d.client(d.cfg.Token).Repositories.CreateStatus(ctx, owner, repo, sha, gh.RepoStatus{
		State: gh.Ptr(state), Context: gh.Ptr(context), TargetURL: gh.Ptr(targetURL), Description: gh.Ptr(description),
	})
	if err != nil {
		return fmt.Errorf("set status %s %q on %s/%s@%s: %w", state, context, owner, repo, sha, err)
	}
	return nil
}

// RetryConfig bounds SetStatusRetry.
type RetryConfig struct {
	// Attempts is how many tries in all; 0 means 3.
	Attempts int
	// Backoff is the wait before the second try, doubled after each; 0
	// means 500 ms.
	Backoff time.Duration
	// Sleep waits (injected in tests); nil waits on a timer or ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// SetStatusRetry posts a status, retrying a bounded number of times; a
// final failure is logged, not returned, so a GitHub outage never slows
// or fails a pipeline beyond the bounded tries. It reports whether the
// status was posted.
func (d *Driver) SetStatusRetry(ctx context.Context, rc RetryConfig, log *slog.Logger, owner, repo, sha, state, context, targetURL, description string) bool {
	if rc.Attempts <= 0 {
		rc.Attempts = 3
	}
	if rc.Backoff <= 0 {
		rc.Backoff = 500 * time.Millisecond
	}
	if rc.Sleep == nil {
		rc.Sleep = sleepCtx
	}
	wait := rc.Backoff
	var err error
	for i := 0; i < rc.Attempts; i++ {
		if i > 0 {
			if rc.Sleep(ctx, wait) != nil {
				break
			}
			wait *= 2
		}
		if err = d.SetStatus(ctx, owner, repo, sha, state, context, targetURL, description); err == nil {
			return true
		}
		if s := statusOf(err); s >= 400 && s < 500 && s != http.StatusTooManyRequests {
			break // a request GitHub refuses will not pass on a retry
		}
	}
	if log != nil {
		log.WarnContext(ctx, "commit status not posted", "repo", owner+"/"+repo, "sha", sha, "context", context, "state", state, "error", err)
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
