package compose

import (
	"context"
	"time"

	"github.com/orbit-ci/orbit/shared/audit"
)

// WebhookSendInterval is how often `orbit up` sends the outbound webhooks'
// due deliveries.
const WebhookSendInterval = 2 * time.Second

// Audit is the audit log recorder, watching the store's status changes
// (workflow and job events) from the first call on. The API records the
// routes' actions with it; Flush moves its outbox into the hourly files
// (RunAuditFlush in `orbit up`, a call a minute in the cron function).
// Events of a request name its signed-in caller (actorOf).
func (a *Assembly) Audit() (*audit.Recorder, error) {
	if a.audit != nil {
		return a.audit, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	kvs := a.kvs // the store's kv (Store set it), in either shape
	blobs, err := a.Blobs()
	if err != nil {
		return nil, err
	}
	r, err := audit.New(audit.Config{KV: kvs, Blobs: blobs, ActorFrom: actorOf, Logger: a.log.With("component", "audit")})
	if err != nil {
		return nil, err
	}
	st.Observe(audit.Workflows{Recorder: r, Pipelines: st})
	a.audit = r
	return r, nil
}

// RunOutboxes flushes the audit outbox and sends the queued mails every
// interval, and the outbound webhooks' deliveries every
// WebhookSendInterval at most, until ctx ends, and flushes once more at the end. Only
// long-running processes call it; the cron function calls Outboxes.
func (a *Assembly) RunOutboxes(ctx context.Context, interval time.Duration) error {
	r, err := a.Audit()
	if err != nil {
		return err
	}
	n, err := a.Notifier()
	if err != nil {
		return err
	}
	hooks, err := a.Webhooks()
	if err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	// Webhook deliveries are due within seconds (CircleCI's are), not at
	// the audit log's minute.
	ht := time.NewTicker(min(interval, WebhookSendInterval))
	defer ht.Stop()
	for {
		select {
		case <-ht.C:
			if _, err := hooks.Send(ctx); err != nil {
				a.log.WarnContext(ctx, "outbound webhooks not sent; they wait in the outbox", "error", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, err := r.Flush(final)
			return err
		case <-t.C:
			if _, err := r.Flush(ctx); err != nil {
				a.log.WarnContext(ctx, "audit flush failed; the events wait in the outbox", "error", err)
			}
			if _, err := n.Send(ctx); err != nil {
				a.log.WarnContext(ctx, "some mails were not sent; they wait for the next round", "error", err)
			}
		}
	}
}
