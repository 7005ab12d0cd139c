package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/internal/compose"
	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/metrics"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

// embedded is Orbit's all-in-one shape: every service in this process,
// state in one bbolt file and a blob directory under the data directory, the
// state machines run by statemachines/local, tasks on a Nomad agent.
type embedded struct {
	dataDir string
	// signInCode is the local admin's one-time sign-in code.
	signInCode string
	nomadAddr  string
	handler    http.Handler
	errc       chan error
	closers    []func()
}

func (e *embedded) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// startEmbedded builds the embedded shape from cfg (compose chooses the
// drivers) and starts the background parts: executions resumed after a
// crash, the bridge, the scheduled pipelines.
func startEmbedded(ctx context.Context, cfg compose.Config, listenAddr string, log *slog.Logger) (_ *embedded, err error) {
	e := &embedded{errc: make(chan error, 2)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	a, err := compose.New(ctx, cfg, version, log)
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, a.Close)
	e.dataDir = a.Config().DataDir
	if cfg.BaseURL == "" {
		a.SetBaseURL("http://" + listenAddr)
	}

	nomadAddr, stopNomad, err := nomadAgent(ctx, cfg, e.dataDir, log)
	if err != nil {
		return nil, err
	}
	e.nomadAddr = nomadAddr
	e.closers = append(e.closers, stopNomad)
	if err := a.UseNomadNodes(nomadAddr); err != nil { // the admin nodes page
		return nil, err
	}

	var bridge *nomadbridge.Bridge // set below; /bridge/status asks it
	api, err := a.API(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bridge == nil {
			http.Error(w, "the bridge is starting", http.StatusServiceUnavailable)
			return
		}
		bridge.StatusHandler(version).ServeHTTP(w, r)
	}), func(ctx context.Context) map[string]error {
		if bridge == nil {
			return map[string]error{"nomad": errors.New("the bridge is starting")}
		}
		return bridge.Health(ctx) // nomad, run_queue
	})
	if err != nil {
		return nil, err
	}
	acc, err := a.Accounts()
	if err != nil {
		return nil, err
	}
	rec, err := a.Audit()
	if err != nil {
		return nil, err
	}
	if e.signInCode, err = bootstrapLocalAdmin(ctx, acc, rec, e.dataDir); err != nil {
		return nil, err
	}
	sink, err := a.Metrics()
	if err != nil {
		return nil, err
	}
	engine, err := a.Engine()
	if err != nil {
		return nil, err
	}
	scheduler, err := a.Scheduler()
	if err != nil {
		return nil, err
	}

	if bridge, err = a.Bridge(nomadAddr, a.Config().BaseURL+compose.WarmPath); err != nil {
		return nil, err
	}
	// Warm agents long-poll the bridge, not the API (see nomadbridge/warm.go).
	top := http.NewServeMux()
	top.Handle(compose.WarmPath+"/", http.StripPrefix(compose.WarmPath, bridge.WarmHandler()))
	top.Handle("/", api)
	e.handler = top

	bctx, cancel := context.WithCancel(ctx)
	e.closers = append(e.closers, cancel)
	if err := engine.Resume(bctx); err != nil {
		return nil, fmt.Errorf("resume executions: %w", err)
	}
	go func() {
		if err := bridge.Run(bctx); err != nil && !errors.Is(err, context.Canceled) {
			e.errc <- fmt.Errorf("nomadbridge: %w", err)
		}
	}()
	// Scheduled pipelines: the cron Lambda's job, on a ticker here.
	go func() { _ = scheduler.Run(bctx) }()
	go func() { _ = a.RunOutboxes(bctx, a.Config().AuditFlushInterval) }()
	go a.IndexUnfinished(bctx)
	go func() { _ = metrics.RunRuntime(bctx, sink, 10*time.Second) }()
	return e, nil
}
