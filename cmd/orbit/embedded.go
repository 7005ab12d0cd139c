package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
	"github.com/orbit-ci/orbit/shared/queue/boltqueue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/schedule"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/taskfiles"
	"github.com/orbit-ci/orbit/shared/vault"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
	"github.com/orbit-ci/orbit/statemachines"
	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/localorch"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

// embedded is Orbit's all-in-one shape: every service in this process,
// state in one bbolt file and a blob directory under the data directory, the
// state machines run by statemachines/local, tasks on a Nomad agent.
type embedded struct {
	dataDir   string
	nomadAddr string
	handler   http.Handler
	errc      chan error
	closers   []func()
}

func (e *embedded) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// startEmbedded wires the drivers into the services and starts the
// background parts (executions resumed after a crash, the bridge).
func startEmbedded(ctx context.Context, cfg upConfig, listenAddr string, log *slog.Logger) (_ *embedded, err error) {
	e := &embedded{errc: make(chan error, 2)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dataDir, err = filepath.Abs(cfg.dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(e.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(e.dataDir, "orbit.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s is in use by another `orbit up` (use --data for a second instance)", e.dataDir)
		}
		return nil, fmt.Errorf("open state: %w", err)
	}
	e.closers = append(e.closers, func() { db.Close() })
	key, err := secretKey(filepath.Join(e.dataDir, "secret.key"))
	if err != nil {
		return nil, err
	}
	baseURL := "http://" + listenAddr

	kvs, err := boltkv.New(db, boltkv.Config{Bucket: "kv"})
	if err != nil {
		return nil, err
	}
	st := store.New(kvs, nil)
	// Every writer of the file commits through the kv store's group
	// committer: bbolt has one writer at a time and each commit is an fsync.
	dlq, err := boltqueue.New(db, "run-dead-letter", boltqueue.Config{Update: kvs.Update})
	if err != nil {
		return nil, err
	}
	runq, err := boltqueue.New(db, "run", boltqueue.Config{Visibility: time.Minute, MaxReceives: 100, DeadLetter: dlq, Update: kvs.Update})
	if err != nil {
		return nil, err
	}
	blobs, err := dirblob.New(dirblob.Config{Root: filepath.Join(e.dataDir, "blobs"), BaseURL: baseURL + "/blob", Secret: key})
	if err != nil {
		return nil, err
	}
	tokens, err := runner.NewTokens(key, nil)
	if err != nil {
		return nil, err
	}
	// Project and context secrets are sealed under master keys kept in
	// their own file (KMS in AWS), apart from the database.
	masterKeys, err := keyfile.New(keyfile.Config{Path: filepath.Join(e.dataDir, masterKeysFile)})
	if err != nil {
		return nil, err
	}
	secretStore := vault.New(st, secrets.NewSealer(masterKeys))

	execStore, err := local.NewBoltStore(db)
	if err != nil {
		return nil, err
	}
	execStore.Update = kvs.Update
	engine, err := local.New(local.Config{Store: execStore, Logger: log.With("component", "statemachines")})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, engine.Close)
	orch, err := localorch.New(engine)
	if err != nil {
		return nil, err
	}
	// The machines call the conductor, which starts the machines: define
	// them with a handler that reaches the conductor once it exists.
	var cond *conductor.Conductor
	machines, err := defineMachines(engine, func(ctx context.Context, p json.RawMessage) (json.RawMessage, error) {
		return cond.Handle(ctx, p)
	})
	if err != nil {
		return nil, err
	}
	jobTimeout, err := envDuration("ORBIT_JOB_TIMEOUT", 5*time.Hour)
	if err != nil {
		return nil, err
	}
	cond, err = conductor.New(conductor.Config{
		Store:        st,
		Orchestrator: orch,
		Machines:     machines,
		Source:       localgit.Repos{},
		RunQueue:     runq,
		Tokens:       tokens,
		Secrets:      secretStore,
		JobTimeout:   jobTimeout,
		Logger:       log.With("component", "conductor"),
	})
	if err != nil {
		return nil, err
	}
	scheduler, err := schedule.New(schedule.Config{
		Store:   st,
		Source:  localgit.Repos{},
		Trigger: cond,
		Logger:  log.With("component", "schedule"),
	})
	if err != nil {
		return nil, err
	}

	files, err := taskfiles.New(taskfiles.Config{
		Blobs: blobs, Tasks: taskfiles.StoreTasks{Store: st},
		UploadURL: baseURL + "/runner/v1/uploads", Secret: key,
		Logger: log.With("component", "taskfiles"),
	})
	if err != nil {
		return nil, err
	}
	sink := memmetrics.New()
	go func() { _ = metrics.RunRuntime(ctx, sink, 10*time.Second) }()
	var bridge *nomadbridge.Bridge // set below; /bridge/status asks it
	handler, err := api.New(api.Config{
		Store:    st,
		Trigger:  cond,
		Controls: cond,
		Projects: localgit.Repos{},
		Files:    files,
		Vault:    secretStore,
		Metrics:  sink.Handler(),
		// The embedded bridge runs every job on the host executor.
		HostExecutor: true,
		Bridge: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if bridge == nil {
				http.Error(w, "the bridge is starting", http.StatusServiceUnavailable)
				return
			}
			bridge.StatusHandler(version).ServeHTTP(w, r)
		}),
		// /status and /health-check: 500 while a dependency is down.
		Health: api.Checks{"store": api.StoreCheck(kvs), "blob": api.BlobCheck(blobs),
			"secrets": api.SecretsCheck(masterKeys)}.And(func(ctx context.Context) map[string]error {
			if bridge == nil {
				return map[string]error{"nomad": errors.New("the bridge is starting")}
			}
			return bridge.Health(ctx) // nomad, run_queue
		}),
		Runner:  runner.NewHandler(cond, tokens, log.With("component", "runner"), runner.WithFiles(files)),
		Blobs:   blobs.Handler(),
		Logger:  log.With("component", "api"),
		Version: version,
	})
	if err != nil {
		return nil, err
	}
	e.handler = handler

	bridge, nomadAddr, stopNomad, err := startBridge(ctx, cfg, e.dataDir, baseURL, key, runq, sink, log)
	if err != nil {
		return nil, err
	}
	// Warm agents long-poll the bridge, not the API (see nomadbridge/warm.go).
	top := http.NewServeMux()
	top.Handle(warmPath+"/", http.StripPrefix(warmPath, bridge.WarmHandler()))
	top.Handle("/", handler)
	e.handler = top
	e.nomadAddr = nomadAddr
	e.closers = append(e.closers, stopNomad)

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
	return e, nil
}

// envDuration reads a duration ("90s", "5h") from the environment.
func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 90s or 5h", name, v)
	}
	return d, nil
}

// defineMachines loads the three state machines, with the conductor as
// their task handler.
func defineMachines(engine *local.Engine, handle local.Handler) (conductor.Machines, error) {
	const fn = "orbit-conductor"
	engine.RegisterLambda(fn, handle)
	subs := map[string]string{statemachines.ConductorFunction: fn}
	var m conductor.Machines
	for _, d := range []struct {
		name string
		def  []byte
		arn  *string
	}{
		{statemachines.PipelineMachine, statemachines.Pipeline, &m.Pipeline},
		{statemachines.WorkflowMachine, statemachines.Workflow, &m.Workflow},
		{statemachines.JobMachine, statemachines.Job, &m.Job},
	} {
		arn, err := engine.Define(d.name, d.def, subs)
		if err != nil {
			return m, fmt.Errorf("define %s: %w", d.name, err)
		}
		*d.arn = arn
	}
	return m, nil
}

// secretKey reads the embedded shape's key (token and URL signing), making
// it on first start.
func secretKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read key: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	return b, nil
}
