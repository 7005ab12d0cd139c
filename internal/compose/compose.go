// Package compose builds every Orbit process from one Config: `orbit up`
// (the embedded all-in-one shape), `orbit bridge` (the bridge alone, on the
// Nomad fleet in AWS) and each Lambda in functions/. It is the one place
// that chooses a driver for each port, by Config.Shape:
//
//	port          embedded                  aws
//	kv            boltkv (DataDir/orbit.db)  dynamokv (AWS.Table)
//	blob          dirblob (DataDir/blobs)    s3blob (AWS.Bucket)
//	queue         boltqueue (+ dead letter)  sqsqueue (AWS.RunQueueURL; DLQ by redrive policy)
//	secrets       keyfile (master.keys)      kmskeys (AWS.KMSKeyID)
//	metrics       memmetrics (/metrics)      cwmetrics (AWS.MetricsNamespace)
//	              + statsdmetrics beside either when StatsD.Addr is set
//	orchestrator  statemachines/local        Step Functions (stepfunctions.go)
//	vcs           localgit (+ GitHub when set) localgit (+ GitHub when set)
//
// An Assembly builds each part on first use and keeps it, so a process
// builds only what it serves: the bridge never opens the table, the cron
// function never builds the API. Cmd/ and functions/ are the composition
// roots of DESIGN.md; this package is their shared body, importable by both
// because it sits in the module's internal/.
package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/ldapauth"
	"github.com/orbit-ci/orbit/shared/lease"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
	"github.com/orbit-ci/orbit/shared/notify"
	"github.com/orbit-ci/orbit/shared/oidc"
	"github.com/orbit-ci/orbit/shared/orbimport"
	"github.com/orbit-ci/orbit/shared/orchestrator"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/boltqueue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/schedule"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/taskfiles"
	"github.com/orbit-ci/orbit/shared/vault"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
	"github.com/orbit-ci/orbit/statemachines"
	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/localorch"
)

// MasterKeysFile is the embedded shape's key file of project and context
// secrets, in the data directory (KMS in AWS).
const MasterKeysFile = "master.keys"

// ConductorFunction is the conductor's function name in the embedded
// shape's definitions (the Lambda's name in AWS).
const ConductorFunction = "orbit-conductor"

// Assembly holds the parts of one process, each built on first use.
// It is not safe for concurrent use while parts are being built: build them
// from the main goroutine, then use them from anywhere.
type Assembly struct {
	cfg     Config
	log     *slog.Logger
	version string
	closers []func()

	db     *bolt.DB      // embedded
	bolt   *boltkv.Store // embedded: its group committer serves every writer of db
	awsCfg *aws.Config   // aws
	keys   *Keys

	store     *store.Store
	blobs     blob.Store
	dirblobs  *dirblob.Store // embedded: also served at /blob
	runq      queue.Queue
	vault     *vault.Vault
	tokens    *runner.Tokens
	files     *taskfiles.Service
	engine    *local.Engine // embedded
	orch      orchestrator.Orchestrator
	keysSvc   secrets.Keys // for the health check
	machines  conductor.Machines
	cond      *conductor.Conductor
	scheduler *schedule.Evaluator
	sink      metrics.Sink
	mem       *memmetrics.Store // embedded: also served at /metrics
	runSink   func(context.Context) error

	accounts   *accounts.Service
	ldap       *ldapauth.Authenticator
	kvs        kv.Store           // the store's kv, for GitHub's registry and webhook claims
	gh         *github.Driver     // nil without GitHub
	ghRegistry *github.Registry   // nil without GitHub
	audit      *audit.Recorder    // audit.go
	notifier   *notify.Notifier   // notify.go
	webhooks   *outhook.Service   // integrations.go
	oidc       *oidc.Issuer       // integrations.go
	insights   *insights.Insights // insights.go
	nodes      api.NodeAdmin      // nodes.go
}

// New starts an assembly: for the embedded shape it opens the data
// directory's database (failing if another process holds it) and reads the
// installation secret; for the aws shape it loads the AWS configuration
// (credentials from the usual chain). version is shown by /status.
func New(ctx context.Context, cfg Config, version string, log *slog.Logger) (_ *Assembly, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Assembly{cfg: cfg, log: log, version: version}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	switch cfg.Shape {
	case Embedded:
		if a.cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		a.db, err = bolt.Open(filepath.Join(a.cfg.DataDir, "orbit.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
		if err != nil {
			if errors.Is(err, bolt.ErrTimeout) {
				return nil, fmt.Errorf("%s is in use by another `orbit up` (use --data for a second instance)", a.cfg.DataDir)
			}
			return nil, fmt.Errorf("open state: %w", err)
		}
		a.closers = append(a.closers, func() { a.db.Close() })
		if a.cfg.Secret, err = secretFile(filepath.Join(a.cfg.DataDir, "secret.key")); err != nil {
			return nil, err
		}
	case AWS:
		c, err := loadAWS(ctx, cfg.AWS)
		if err != nil {
			return nil, err
		}
		a.awsCfg = &c
		if len(a.cfg.Secret) == 0 && cfg.AWS.SigningSecretARN != "" {
			if a.cfg.Secret, err = signingSecret(ctx, c, cfg.AWS.SigningSecretARN); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("shape %q: want embedded or aws", cfg.Shape)
	}
	return a, nil
}

// Config is the assembly's configuration, defaults resolved (DataDir
// absolute).
func (a *Assembly) Config() Config { return a.cfg }

// SetBaseURL sets the API's URL as agents reach it, once `orbit up` knows
// the address it listens on. Call it before building any part.
func (a *Assembly) SetBaseURL(u string) { a.cfg.BaseURL = strings.TrimRight(u, "/") }

// Close releases what the assembly opened, last opened first.
func (a *Assembly) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

func (a *Assembly) baseURL(what string) (string, error) {
	if a.cfg.BaseURL == "" {
		return "", fmt.Errorf("%s: ORBIT_BASE_URL not set (the API's URL as build agents reach it)", what)
	}
	return strings.TrimRight(a.cfg.BaseURL, "/"), nil
}

// Keys derives the installation's signing keys.
func (a *Assembly) Keys() (Keys, error) {
	if a.keys == nil {
		if len(a.cfg.Secret) == 0 {
			return Keys{}, errors.New("ORBIT_SECRET (or ORBIT_SIGNING_SECRET_ARN) not set: the installation secret (base64 of 32 random bytes, or a Secrets Manager secret) signs task tokens and URLs")
		}
		k, err := DeriveKeys(a.cfg.Secret)
		if err != nil {
			return Keys{}, err
		}
		a.keys = &k
	}
	return *a.keys, nil
}

// Store is the records store on the kv port.
func (a *Assembly) Store() (*store.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	if a.cfg.Shape == Embedded {
		kvs, err := boltkv.New(a.db, boltkv.Config{Bucket: "kv"})
		if err != nil {
			return nil, err
		}
		a.bolt, a.store, a.kvs = kvs, store.New(kvs, nil), kvs
		return a.store, nil
	}
	kvs, err := a.dynamoKV()
	if err != nil {
		return nil, err
	}
	a.store, a.kvs = store.New(kvs, nil), kvs
	return a.store, nil
}

// Blobs is the blob store.
func (a *Assembly) Blobs() (blob.Store, error) {
	if a.blobs != nil {
		return a.blobs, nil
	}
	if a.cfg.Shape == AWS {
		s, err := a.s3Blobs()
		if err != nil {
			return nil, err
		}
		a.blobs = s
		return s, nil
	}
	base, err := a.baseURL("blob URLs")
	if err != nil {
		return nil, err
	}
	keys, err := a.Keys()
	if err != nil {
		return nil, err
	}
	s, err := dirblob.New(dirblob.Config{Root: filepath.Join(a.cfg.DataDir, "blobs"), BaseURL: base + "/blob", Secret: keys.BlobURLs})
	if err != nil {
		return nil, err
	}
	a.blobs, a.dirblobs = s, s
	return s, nil
}

// RunQueue is the run queue: one message per task, read by the bridge.
func (a *Assembly) RunQueue() (queue.Queue, error) {
	if a.runq != nil {
		return a.runq, nil
	}
	if a.cfg.Shape == AWS {
		q, err := a.sqsQueue()
		if err != nil {
			return nil, err
		}
		a.runq = q
		return q, nil
	}
	// Every writer of the file commits through the kv store's group
	// committer: bbolt has one writer at a time and each commit is an fsync.
	if _, err := a.Store(); err != nil {
		return nil, err
	}
	dlq, err := boltqueue.New(a.db, "run-dead-letter", boltqueue.Config{Update: a.bolt.Update})
	if err != nil {
		return nil, err
	}
	q, err := boltqueue.New(a.db, "run", boltqueue.Config{Visibility: time.Minute, MaxReceives: 100, DeadLetter: dlq, Update: a.bolt.Update})
	if err != nil {
		return nil, err
	}
	a.runq = q
	return q, nil
}

// Vault keeps project and context secrets, sealed under master keys kept
// apart from the records: a key file beside the database, or KMS.
func (a *Assembly) Vault() (*vault.Vault, error) {
	if a.vault != nil {
		return a.vault, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	var keys secrets.Keys
	if a.cfg.Shape == AWS {
		keys, err = a.kmsKeys()
	} else {
		keys, err = keyfile.New(keyfile.Config{Path: filepath.Join(a.cfg.DataDir, MasterKeysFile)})
	}
	if err != nil {
		return nil, err
	}
	a.keysSvc = keys
	a.vault = vault.New(st, secrets.NewSealer(keys))
	return a.vault, nil
}

// Tokens signs and checks the runner API's task tokens.
func (a *Assembly) Tokens() (*runner.Tokens, error) {
	if a.tokens != nil {
		return a.tokens, nil
	}
	keys, err := a.Keys()
	if err != nil {
		return nil, err
	}
	if a.tokens, err = runner.NewTokens(keys.RunnerTokens, nil); err != nil {
		return nil, err
	}
	return a.tokens, nil
}

// Files stores and serves caches, workspaces, artifacts and test results.
// In AWS agents upload straight to S3 by presigned URL; embedded, through
// the runner API's /uploads.
func (a *Assembly) Files() (*taskfiles.Service, error) {
	if a.files != nil {
		return a.files, nil
	}
	blobs, err := a.Blobs()
	if err != nil {
		return nil, err
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	cfg := taskfiles.Config{Blobs: blobs, Tasks: taskfiles.StoreTasks{Store: st}, Logger: a.log.With("component", "taskfiles")}
	if _, direct := blobs.(taskfiles.PutPresigner); !direct {
		base, err := a.baseURL("upload URLs")
		if err != nil {
			return nil, err
		}
		keys, err := a.Keys()
		if err != nil {
			return nil, err
		}
		cfg.UploadURL, cfg.Secret = base+"/runner/v1/uploads", keys.TaskFiles
	}
	if a.files, err = taskfiles.New(cfg); err != nil {
		return nil, err
	}
	return a.files, nil
}

// Engine is the embedded shape's state-machine interpreter, with the three
// machines defined and the conductor as their task handler. Call Resume on
// it once the process is wired, to continue the executions of a previous
// run.
func (a *Assembly) Engine() (*local.Engine, error) {
	if a.cfg.Shape != Embedded {
		return nil, errors.New("the aws shape runs the state machines in Step Functions")
	}
	if _, err := a.orchestrator(); err != nil {
		return nil, err
	}
	return a.engine, nil
}

// orchestrator runs the state machines: statemachines/local in process
// (embedded), Step Functions (aws).
func (a *Assembly) orchestrator() (orchestrator.Orchestrator, error) {
	if a.orch != nil {
		return a.orch, nil
	}
	if a.cfg.Shape == AWS {
		o, m, err := a.stepFunctions()
		if err != nil {
			return nil, err
		}
		a.orch, a.machines = o, m
		return o, nil
	}
	execStore, err := local.NewBoltStore(a.db)
	if err != nil {
		return nil, err
	}
	if _, err := a.Store(); err != nil {
		return nil, err
	}
	execStore.Update = a.bolt.Update
	engine, err := local.New(local.Config{Store: execStore, Logger: a.log.With("component", "statemachines")})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, engine.Close)
	// The machines call the conductor, which starts the machines: their
	// handler reaches the conductor once it exists.
	m, err := DefineMachines(engine, func(ctx context.Context, p json.RawMessage) (json.RawMessage, error) {
		if a.cond == nil {
			return nil, errors.New("the conductor is starting")
		}
		return a.cond.Handle(ctx, p)
	})
	if err != nil {
		return nil, err
	}
	orch, err := localorch.New(engine)
	if err != nil {
		return nil, err
	}
	a.engine, a.orch, a.machines = engine, orch, m
	return orch, nil
}

// DefineMachines defines the three state machines on engine, their
// lambda:invoke tasks calling the conductor function: handle in process,
// or (handle nil) the engine's Invoker, as the emulated AWS shape does.
func DefineMachines(engine *local.Engine, handle local.Handler) (conductor.Machines, error) {
	if handle != nil {
		engine.RegisterLambda(ConductorFunction, handle)
	}
	subs := map[string]string{statemachines.ConductorFunction: ConductorFunction}
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

// Conductor is the state machines' task handler and the runner API's
// backend.
func (a *Assembly) Conductor() (*conductor.Conductor, error) {
	if a.cond != nil {
		return a.cond, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	orch, err := a.orchestrator()
	if err != nil {
		return nil, err
	}
	runq, err := a.RunQueue()
	if err != nil {
		return nil, err
	}
	tokens, err := a.Tokens()
	if err != nil {
		return nil, err
	}
	v, err := a.Vault()
	if err != nil {
		return nil, err
	}
	src, err := a.source()
	if err != nil {
		return nil, err
	}
	if err := a.watchGitHubStatuses(st); err != nil {
		return nil, err
	}
	if _, err := a.Audit(); err != nil {
		return nil, err
	}
	if _, err := a.Notifier(); err != nil {
		return nil, err
	}
	if _, err := a.Insights(); err != nil {
		return nil, err
	}
	if _, err := a.Webhooks(); err != nil {
		return nil, err
	}
	secretsOf, err := a.secretsOfTasks(v)
	if err != nil {
		return nil, err
	}
	a.cond, err = conductor.New(conductor.Config{
		Store:        st,
		Orchestrator: orch,
		Machines:     a.machines,
		Source:       src,
		Commits:      src,
		Checkout:     a.checkout(),
		SSHIdle:      a.cfg.SSHIdle,
		SSHMax:       a.cfg.SSHMax,
		RunQueue:     runq,
		Tokens:       tokens,
		Secrets:      secretsOf,
		URLOrbs:      orbimport.URLOrbSource{Lists: st},
		JobTimeout:   a.cfg.JobTimeout,
		Logger:       a.log.With("component", "conductor"),
	})
	return a.cond, err
}

// Scheduler evaluates the projects' scheduled pipelines: Run on a ticker
// in `orbit up`, Evaluate once a minute in the cron function.
func (a *Assembly) Scheduler() (*schedule.Evaluator, error) {
	if a.scheduler != nil {
		return a.scheduler, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	cond, err := a.Conductor()
	if err != nil {
		return nil, err
	}
	src, err := a.source()
	if err != nil {
		return nil, err
	}
	a.scheduler, err = schedule.New(schedule.Config{Store: st, Source: src, Trigger: cond, Logger: a.log.With("component", "schedule")})
	return a.scheduler, err
}

// Metrics is the metrics sink: in memory (served at /metrics) or
// CloudWatch. RunMetrics flushes it.
func (a *Assembly) Metrics() (metrics.Sink, error) {
	if a.sink != nil {
		return a.sink, nil
	}
	if a.cfg.Shape == AWS {
		s, err := a.cloudWatch()
		if err != nil {
			return nil, err
		}
		return a.setSink(s, runCloudWatch(s))
	}
	a.mem = memmetrics.New()
	return a.setSink(a.mem, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
}

// setSink keeps the shape's sink, with StatsD beside it when configured.
func (a *Assembly) setSink(s metrics.Sink, run func(context.Context) error) (metrics.Sink, error) {
	s, run, err := a.withStatsD(s, run)
	if err != nil {
		return nil, err
	}
	a.sink, a.runSink = s, run
	return s, nil
}

// RunMetrics sends the metrics until ctx ends (CloudWatch: a flush a
// minute and one at the end; in memory: nothing to do). Only long-running
// processes call it: a Lambda must not leave it running between requests.
func (a *Assembly) RunMetrics(ctx context.Context) error {
	if _, err := a.Metrics(); err != nil {
		return err
	}
	return a.runSink(ctx)
}

// API is the one http.Handler of the REST API, the UI and the runner API.
// bridgeStatus, when set, is served at /bridge/ (the embedded shape's
// bridge runs in the same process), and bridgeHealth adds the bridge's
// dependencies (Nomad, the run queue) to /health-check and /status. The embedded-only parts (the blob
// server at /blob, /metrics, the host-executor notice) are not wired in
// the aws shape.
func (a *Assembly) API(bridgeStatus http.Handler, bridgeHealth func(context.Context) map[string]error) (http.Handler, error) {
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	cond, err := a.Conductor()
	if err != nil {
		return nil, err
	}
	files, err := a.Files()
	if err != nil {
		return nil, err
	}
	v, err := a.Vault()
	if err != nil {
		return nil, err
	}
	tokens, err := a.Tokens()
	if err != nil {
		return nil, err
	}
	rec, err := a.Audit()
	if err != nil {
		return nil, err
	}
	notifier, err := a.Notifier()
	if err != nil {
		return nil, err
	}
	acc, err := a.Accounts()
	if err != nil {
		return nil, err
	}
	integrations, err := a.integrations()
	if err != nil {
		return nil, err
	}
	signIn, perms, follower, err := a.signIn()
	if err != nil {
		return nil, err
	}
	ins, err := a.Insights()
	if err != nil {
		return nil, err
	}
	cfg := api.Config{
		Insights:      ins,
		Accounts:      acc,
		Permissions:   perms,
		GitHub:        follower,
		SignIn:        signIn,
		Audit:         rec,
		Notifications: notifier,
		Integrations:  integrations,
		Nodes:         a.nodes,
		Store:         st,
		Trigger:       cond,
		Controls:      cond,
		Projects:      localgit.Repos{},
		Files:         files,
		Vault:         v,
		Bridge:        bridgeStatus,
		Health:        a.health(bridgeHealth),
		Runner:        runner.NewHandler(cond, tokens, a.log.With("component", "runner"), runner.WithFiles(files)),
		Logger:        a.log.With("component", "api"),
		Version:       a.version,
	}
	if cfg.GitHubWebhooks, err = a.githubWebhooks(cond); err != nil {
		return nil, err
	}
	if a.cfg.Shape == Embedded {
		if _, err := a.Metrics(); err != nil {
			return nil, err
		}
		cfg.Metrics = a.mem.Handler()
		cfg.Blobs = a.dirblobs.Handler()
		// The embedded bridge runs every job on the host executor.
		cfg.HostExecutor = true
		// orbit up answers long responses: the job page streams output.
		cfg.StreamOutput = true
	}
	return api.New(cfg)
}

// health checks the process's own dependencies (store, blob store, secrets;
// the run queue in the aws shape, where no bridge runs beside the API) and
// then bridgeHealth's: /health-check answers 500 while one is down.
func (a *Assembly) health(bridgeHealth func(context.Context) map[string]error) func(context.Context) map[string]error {
	checks := api.Checks{"secrets": api.SecretsCheck(a.keysSvc)}
	if a.bolt != nil {
		checks["store"] = api.StoreCheck(a.bolt)
	} else if kvs, err := a.dynamoKV(); err == nil {
		checks["store"] = api.StoreCheck(kvs)
	}
	if a.blobs != nil {
		checks["blob"] = api.BlobCheck(a.blobs)
	}
	if bridgeHealth == nil {
		if q, ok := a.runq.(interface {
			Stats(ctx context.Context) (queue.Stats, error)
		}); ok {
			checks["run_queue"] = api.QueueCheck(q)
		}
		return checks.Health
	}
	return checks.And(bridgeHealth)
}

// Bridge is nomadbridge on the Nomad agent at nomadAddr, feeding it the run
// queue. Agents call the runner API at BaseURL/runner/v1; warm agents claim
// their task at warmURL (the bridge's WarmHandler, served at WarmPath).
func (a *Assembly) Bridge(nomadAddr, warmURL string) (*nomadbridge.Bridge, error) {
	runq, err := a.RunQueue()
	if err != nil {
		return nil, err
	}
	sink, err := a.Metrics()
	if err != nil {
		return nil, err
	}
	base, err := a.baseURL("the bridge")
	if err != nil {
		return nil, err
	}
	nomad, err := nomadClient(nomadAddr, a.cfg.CACertDir)
	if err != nil {
		return nil, err
	}
	agentPath, err := a.agentPath()
	if err != nil {
		return nil, err
	}
	keys, err := a.Keys()
	if err != nil {
		return nil, err
	}
	// With 0 agents the pool still finishes what warm agents of a previous
	// run took.
	idle := a.cfg.WarmIdle
	if idle == 0 {
		idle = -1 // never
	}
	warm := nomadbridge.WarmConfig{
		Agents:    map[string]int{"medium": a.cfg.WarmAgents},
		ClaimURL:  warmURL,
		Secret:    keys.WarmAgents,
		IdleAfter: idle,
	}
	// In AWS two bridges run for availability; a lease in the table lets one
	// dispatch at a time, and the standby takes over when it dies.
	var leader nomadbridge.Lease
	if a.cfg.Shape == AWS {
		kvs, err := a.dynamoKV()
		if err != nil {
			return nil, err
		}
		host, _ := os.Hostname()
		l, err := lease.New(kvs, lease.Config{Key: "nomadbridge", Holder: lease.NewHolderID(host),
			Logger: a.log.With("component", "lease")})
		if err != nil {
			return nil, err
		}
		leader = l
	}
	scaleIn, err := a.scaleIn(nomad)
	if err != nil {
		return nil, err
	}
	pool, collect, err := a.vmPool()
	if err != nil {
		return nil, err
	}
	return nomadbridge.New(nomadbridge.Config{
		Also:          scaleIn,
		Pool:          pool,
		PoolCollector: collect,
		Lease:         leader,
		Queue:         runq,
		Nomad:         nomad,
		RunnerURL:     base + "/runner/v1",
		Agent: nomadbridge.AgentCommand{Path: agentPath, Args: []string{"agent"},
			Env: map[string]string{agent.EnvOutputInterval: a.cfg.OutputInterval.String()}},
		ResourceScale:     a.cfg.ResourceScale,
		HeartbeatInterval: a.cfg.HeartbeatInterval,
		Metrics:           sink,
		Proxy:             a.cfg.Proxy,
		CACertDir:         a.cfg.CACertDir,
		Warm:              warm,
		Logger:            a.log.With("component", "nomadbridge"),
	})
}

// WarmPath is where the bridge's WarmHandler is served (by `orbit up`'s
// server, or the bridge's own): warm agents long-poll it for a task.
const WarmPath = "/bridge/warm"

// agentBinary is the small build agent binary (cmd/orbit-agent) that make
// build puts beside orbit.
const agentBinary = "orbit-agent"

// agentPath is the build agent Nomad starts (agentPathFor of the running
// binary), with a warning when it is the slower `orbit agent`.
func (a *Assembly) agentPath() (string, error) {
	self, err := os.Executable()
	if err != nil && a.cfg.AgentPath == "" {
		return "", fmt.Errorf("find the build agent: %w", err)
	}
	p, small := agentPathFor(a.cfg.AgentPath, self)
	if !small {
		a.log.Warn("the build agent runs as `orbit agent`, which starts tens of milliseconds slower than orbit-agent: build it beside orbit (make build) or set ORBIT_AGENT_PATH",
			"looked_for", filepath.Join(filepath.Dir(self), agentBinary))
	}
	return p, nil
}

// agentPathFor is configured (ORBIT_AGENT_PATH) when set, else orbit-agent
// beside self when it is there, else self (whose `agent` command is the
// same agent, slower to start); small says it is not self.
func agentPathFor(configured, self string) (path string, small bool) {
	if configured != "" {
		return configured, configured != self
	}
	p := filepath.Join(filepath.Dir(self), agentBinary)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return p, true
	}
	return self, false
}
