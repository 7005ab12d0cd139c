package compose

import "context"

// IndexUnfinished indexes the unfinished work an Orbit older than the
// store's index of unfinished work left (store.BackfillUnfinished): once
// per installation, resuming where a cut-short call stopped; after that a
// call reads one item. Failures are logged: the next call resumes. `orbit
// up` calls it at start, the cron Lambda every minute.
func (a *Assembly) IndexUnfinished(ctx context.Context) {
	st, err := a.Store()
	if err != nil {
		a.log.WarnContext(ctx, "indexing older unfinished work: no store", "error", err)
		return
	}
	n, err := st.BackfillUnfinished(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.WarnContext(ctx, "indexing older unfinished work did not finish; the next call resumes it (until then the admin queues page may miss older jobs)", "error", err)
	case n > 0:
		a.log.InfoContext(ctx, "indexed unfinished work written before the index", "records", n)
	}
}
