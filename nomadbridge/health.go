package nomadbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// healthTimeout bounds each dependency check.
const healthTimeout = 5 * time.Second

// Health checks the bridge's dependencies by name ("nomad", "run_queue",
// and "vm_pool" when it has one); a nil error is healthy. Nomad is asked
// directly (a one-job list), and so is the pool (its leases), so the answer
// is current even between polls.
func (b *Bridge) Health(ctx context.Context) map[string]error {
	out := map[string]error{}
	nctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	q := b.queryOpts(nctx)
	q.PerPage = 1
	if _, _, err := b.cfg.Nomad.Jobs.List(q); err != nil {
		out["nomad"] = b.nomadErr("list jobs", err)
	} else {
		out["nomad"] = nil
	}
	qctx, cancel2 := context.WithTimeout(ctx, healthTimeout)
	defer cancel2()
	if _, err := b.cfg.Queue.Stats(qctx); err != nil {
		out["run_queue"] = fmt.Errorf("run queue: %w", err)
	} else {
		out["run_queue"] = nil
	}
	if b.cfg.Pool != nil {
		pctx, cancel3 := context.WithTimeout(ctx, healthTimeout)
		defer cancel3()
		out["vm_pool"] = nil
		if _, err := b.cfg.Pool.Leases(pctx); err != nil {
			out["vm_pool"] = fmt.Errorf("VM pool: %w", err)
		}
	}
	return out
}

// StatusHandler serves the bridge's GET /health-check and GET /status when
// it runs on its own (in the embedded shape the API's /status includes
// Health): 200 when every dependency is healthy, 500 naming what is not.
// /status adds the bridge's counters and, with a lease, the lease's state.
func (b *Bridge) StatusHandler(version string) http.Handler {
	mux := http.NewServeMux()
	serve := func(withStats bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			deps := map[string]string{}
			code := http.StatusOK
			for name, err := range b.Health(r.Context()) {
				deps[name] = "ok"
				if err != nil {
					deps[name], code = err.Error(), http.StatusInternalServerError
				}
			}
			body := map[string]any{"status": "ok", "dependencies": deps}
			if code != http.StatusOK {
				body["status"] = "unhealthy"
			}
			if withStats {
				body["version"], body["stats"] = version, b.Stats()
				if st, ok := b.LeaseState(); ok {
					body["lease"] = st // a standby is healthy: it is ready to take over
				}
				if b.warm != nil {
					body["warm_agents"] = b.WarmStats()
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(body)
		}
	}
	mux.HandleFunc("GET /health-check", serve(false))
	mux.HandleFunc("GET /status", serve(true))
	return mux
}
