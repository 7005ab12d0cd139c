// Command cron is the cron Lambda: EventBridge Scheduler invokes it once a
// minute, and it triggers the scheduled pipelines due in that minute (and
// in minutes missed since, up to shared/schedule's catch-up window). Each
// minute is evaluated once however often it is invoked. It also sends
// the queued mails and outbound webhook deliveries and flushes the audit
// outbox, and once indexes the unfinished work an older Orbit left.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/orbit-ci/orbit/functions/internal/lambdamain"
	"github.com/orbit-ci/orbit/internal/compose"
)

func main() {
	lambdamain.Main("cron", func(_ context.Context, a *compose.Assembly, _ *slog.Logger) (any, error) {
		s, err := a.Scheduler()
		if err != nil {
			return nil, err
		}
		rec, err := a.Audit()
		if err != nil {
			return nil, err
		}
		mails, err := a.Notifier()
		if err != nil {
			return nil, err
		}
		hooks, err := a.Webhooks()
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			a.IndexUnfinished(ctx) // once per installation; then one read
			if _, err := hooks.Send(ctx); err != nil {
				slog.WarnContext(ctx, "outbound webhooks not sent; they wait for the next minute", "error", err)
			}
			if _, err := mails.Send(ctx); err != nil {
				slog.WarnContext(ctx, "some mails were not sent; they wait for the next minute", "error", err)
			}
			// The audit outbox's flush rides on the same minute: no
			// goroutine outlives the invocation.
			if _, err := rec.Flush(ctx); err != nil {
				slog.WarnContext(ctx, "audit flush failed; the events wait in the outbox", "error", err)
			}
			return s.Evaluate(ctx, time.Now())
		}, nil
	})
}
