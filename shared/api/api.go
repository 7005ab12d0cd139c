// Package api is Orbit's HTTP front door: CircleCI's REST API v2 (the part
// Orbit implements), the browser UI, the health endpoints, and the mount
// points of the runner API and of the embedded blob server, all in ONE
// net/http handler. cmd/orbit serves it with http.Server; the api Lambda
// serves the same handler through a Lambda adapter, so the request context
// (and the Lambda deadline) reaches every handler.
//
//	request ─▶ middleware (request id, access log, panic recovery, nosniff,
//	           %2F-escaped project slugs) ─▶ ServeMux ─▶ handler ─▶ store
//	                                                        └─ error ─▶ errors.go (the one
//	                                                           error → status mapping)
//
// # Routes
//
// CircleCI API v2 (shapes as in CircleCI's OpenAPI document; project slugs
// are "<vcs>/<org>/<repo>", e.g. "local/acme/api", and may be given with
// their slashes escaped as %2F):
//
//	GET  /api/v2/project/{slug}                      project
//	POST /api/v2/project/{slug}/pipeline             trigger: {"branch","tag","parameters"} → 201 PipelineCreation
//	GET  /api/v2/project/{slug}/pipeline             pipelines, newest first (page-token ↔ next_page_token)
//	GET  /api/v2/project/{slug}/pipeline/{number}    pipeline by number
//	GET  /api/v2/project/{slug}/job/{number}         job details
//	GET  /api/v2/pipeline/{id}                       pipeline
//	GET  /api/v2/pipeline/{id}/config                {source, compiled}
//	GET  /api/v2/pipeline/{id}/workflow              workflows of a pipeline
//	GET  /api/v2/workflow/{id}                       workflow
//	GET  /api/v2/workflow/{id}/job                   jobs of a workflow
//	GET  /api/v2/project/{slug}/{number}/artifacts   a job's artifacts {items: [{path, node_index, url}]}
//	GET  /api/v2/project/{slug}/{number}/tests       a job's test results (JUnit) {items: [{message,
//	     source, run_time, file, result, name, classname}]} (both served when Config.Files is set)
//	POST /api/v2/workflow/{id}/approve/{approval_request_id}  approve an on_hold approval job → 202
//	POST /api/v2/workflow/{id}/cancel                cancel a workflow → 202
//	POST /api/v2/workflow/{id}/rerun                 {"from_failed"|"jobs"|"sparse_tree"} → 202 {"workflow_id"}
//	POST /api/v2/project/{slug}/job/{number}/cancel  cancel a job → 200
//	POST /api/v2/jobs/{job-id}/cancel                cancel a job → 200
//
// Insights (insights.go, when Config.Insights is set): the ten operations
// of the document's Insights tag, answered from shared/insights' aggregates.
// The rest of CircleCI's operations Orbit serves: GET /pipeline,
// /pipeline/{id}/values, /project/{slug}/pipeline/mine and …/pipeline/run
// (pipelines_more.go), schedules (schedules.go), /me/collaborations and
// /user/{id} (users_v2.go), DELETE /project/{slug} (projects_v2.go), the
// project settings (project_settings.go), creating and deleting
// organizations and creating projects (organizations.go); GET /api/v2/openapi.json lists
// every route, and docs/API.md every difference from CircleCI's document.
//
// (the controls are served when Config.Controls is set; see actions.go;
// project and context variables, checkout keys and SSH keys when
// Config.Vault is set; see vault.go)
//
// Orbit extensions (CircleCI's v2 has no equivalent):
//
//	GET  /api/v2/openapi.json                        Orbit's OpenAPI document, without credentials
//	                                                 (generated from the routes: openapi.go)
//	POST /api/v2/project {"path", "org"?, "name"?}   follow a local git repository → 201 project,
//	                                                 409 if followed, 400 if not a git repository.
//	                                                 The slug is local/<org>/<name>: by default the
//	                                                 parent directory's and the directory's base names.
//	GET  /api/v2/projects                            every followed project
//	GET  /api/v2/project/{slug}/job/{number}/steps   the steps of the job's latest attempt:
//	     {"items":[{index, name, type, actions:[{index, status, exit_code, start_time,
//	     end_time, run_time_millis, output_url}]}]}, one action per parallel task
//	     (action index = task index), like CircleCI's v1.1 build steps.
//	GET  /api/v2/insights/{slug}/dashboard           the seed's Insights page figures (insights_tests.go)
//	GET  /api/v2/project/{slug}/job/{number}/output?step=N&task=I[&from=SEQ]
//	     text/plain: step N's output on task I, chunks from sequence number SEQ
//	     on (default 0), concatenated, ANSI escapes kept. The X-Orbit-Next-Seq
//	     header is the SEQ to ask for next, so a client polls incrementally.
//
// Job details (GET /api/v2/project/{slug}/job/{number}) add "attempts": one
// entry per dispatch of the job, oldest first ({attempt, status, message,
// parallel_runs}), so each automatic retry after an infrastructure failure
// is visible; CircleCI's own fields (parallel_runs: the latest attempt) are
// as CircleCI has them. While a job is queued for a reason the bridge knows
// (Nomad unreachable, no client of its resource class, node drained) they
// add "waiting": {reason, since, task_index}, also a "warning" message, and
// the UI's pipeline page shows it (waiting.go).
//
// Operations, UI and mounts:
//
//	GET  /api/v2/project/{slug}/{number}/artifacts/{node}/{path}  an artifact, served with the
//	     seed's safe content types (artifacts.go)
//	GET  /metrics        Config.Metrics (text), when set
//	GET  /bridge/status, /bridge/health-check   nomadbridge's health (Config.Bridge), when set
//	GET  /health-check   200 {"status":"ok"}; 500 naming each failed dependency
//	GET  /status         version and every dependency's state ("ok" or the error); 500 if any is bad
//	GET  /, /ui/projects, /ui/project/{slug}, /ui/pipeline/{id}, /ui/workflow/{id}  the
//	     dashboard and the pipeline pages, with their form actions (HTML, ui_pipe_actions.go)
//	GET  /ui/project/{slug}/job/{number}  a job's steps, live output, tests and artifacts (ui_job.go)
//	GET  /ui/project/{slug}/settings  project settings and their forms (ui_settings.go; also /ui/account,
//	     /ui/contexts, /ui/insights: ui_set.go)
//	GET  /ui/admin…      the admin pages (instance admins: users, settings, audit log, usage,
//	     queues, Nomad nodes, health; ui_admin.go)
//	     /runner/v1/...  Config.Runner, with the prefix stripped
//	     /blob/...       Config.Blobs, with the full path (when set)
//	POST /webhooks/github  GitHub's deliveries (Config.GitHubWebhooks, when set)
//
// Errors are JSON {"message": "..."} (HTML on UI pages): store.ErrNotFound is
// 404, a bad request body, parameter or trigger is 400, store.ErrExists is
// 409, anything else 500 with a generic message and the real error logged
// with the request id. Internal fields (the orchestrator task tokens of
// workflows and jobs) are never part of a response: every response is built
// from a view type of this package, never by encoding a store record.
//
// Every route declares who may call it (access.go) and is refused to
// anyone else before its handler runs: API tokens as CircleCI takes them
// or a browser session (auth.go, signin.go).
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

// Triggerer starts pipelines; *conductor.Conductor satisfies it. An unknown
// project is store.ErrNotFound, an invalid request conductor.ErrBadTrigger.
type Triggerer interface {
	Trigger(ctx context.Context, req conductor.TriggerRequest) (store.Pipeline, error)
}

// ProjectSource inspects a local repository to follow; localgit.Repos
// satisfies it. Inspect returns the repository's absolute path and default
// branch, or an error matching vcs.ErrRepoNotFound when path is not a git
// repository.
type ProjectSource interface {
	Inspect(ctx context.Context, path string) (abs, defaultBranch string, err error)
}

var _ Triggerer = (*conductor.Conductor)(nil)

// Config configures the handler.
type Config struct {
	// Store keeps the records. Required.
	Store *store.Store
	// Trigger starts pipelines (the conductor). Required.
	Trigger Triggerer
	// Projects inspects repositories to follow. Required.
	Projects ProjectSource
	// Controls approves, cancels and reruns (the conductor). Nil leaves
	// those routes out.
	Controls Controls
	// SSHKeys adds authorized_keys lines of the user who makes the request
	// (their GitHub keys) to the ones in their Orbit account, for a rerun
	// with SSH. Nil: the account's keys only.
	SSHKeys func(r *http.Request) ([]string, error)
	// Vault keeps project and context variables and keys. Nil leaves the
	// secrets routes (vault.go) out.
	Vault *vault.Vault
	// Files reads jobs' artifacts and test results. Nil leaves those
	// routes out.
	Files JobFiles
	// AllowUnsafeArtifacts serves artifacts with their stored content type
	// (the admin setting "serve artifacts with unsafe content types").
	AllowUnsafeArtifacts bool
	// Metrics serves GET /metrics. Nil leaves it out.
	Metrics http.Handler
	// HostExecutor says every job runs on the host executor (the embedded
	// shape): the UI then says, on each job, that its image or VM was not
	// used.
	HostExecutor bool
	// StreamOutput: the job page follows running output by server-sent
	// events (a long response; the embedded shape). False where responses
	// cannot stream (the api Lambda behind API Gateway): the page polls.
	StreamOutput bool
	// Bridge serves nomadbridge's /status and /health-check, mounted at
	// /bridge/ with that prefix stripped (embedded shape). Nil leaves it out.
	Bridge http.Handler
	// Runner serves the runner API; it is mounted at /runner/v1/ with that
	// prefix stripped. Nil leaves it unmounted.
	Runner http.Handler
	// GitHubWebhooks serves POST /webhooks/github (shared/webhooks). Nil
	// leaves it out.
	GitHubWebhooks http.Handler
	// Blobs serves presigned blob URLs in the embedded shape; it is mounted
	// at /blob/ and sees the full path. Nil leaves it unmounted.
	Blobs http.Handler
	// Health checks the dependencies by name for /health-check and /status;
	// a nil error means healthy. Nil means no checks.
	Health func(ctx context.Context) map[string]error
	// Audit records the seed's audited actions (audit.go). Nil records
	// nothing.
	Audit *audit.Recorder
	// Notifications keeps the workflow mail settings (notify.go). Nil
	// leaves those routes out.
	Notifications Notifications
	// Insights answers the Insights API (insights.go). Nil leaves those
	// routes out.
	Insights *insights.Insights
	// Accounts authenticates callers (tokens, sessions) and keeps the
	// users. Required.
	Accounts *accounts.Service
	// Permissions answers what a user may do on a project.
	Permissions accounts.Permissions
	// GitHub follows GitHub repositories (follow.go); nil leaves those
	// routes out.
	GitHub GitHubFollower
	// SignIn configures the sign-in methods (signin.go).
	SignIn SignIn
	// Nodes administers the Nomad clients (the admin nodes page,
	// ui_admin_nodes.go). Nil leaves that page out.
	Nodes NodeAdmin
	// Integrations serve the webhook, usage export, OIDC and other newer
	// operations (integrations.go).
	Integrations Integrations
	// Logger receives the access log and errors; nil discards.
	Logger *slog.Logger
	// Version is shown by /status.
	Version string
	// PageSize is how many pipelines a page lists; 0 means 20.
	PageSize int
}

// server holds the dependencies of the handlers.
type server struct {
	cfg    Config
	routes []Route
	logins *limiter
	st     *store.Store
	log    *slog.Logger
	ui     *uiTemplates
	// openapi is Orbit's OpenAPI document (openapi.go), built once every
	// route is registered.
	openapi []byte
}

// New returns the handler for the whole API and UI.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("api: Config.Store is required")
	case cfg.Trigger == nil:
		return nil, errors.New("api: Config.Trigger is required")
	case cfg.Projects == nil:
		return nil, errors.New("api: Config.Projects is required")
	case cfg.Accounts == nil:
		return nil, errors.New("api: Config.Accounts is required: every route checks its caller")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 20
	}
	ui, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, st: cfg.Store, log: cfg.Logger, ui: ui}

	mux := http.NewServeMux()
	s.route(mux, "GET /health-check", public, http.HandlerFunc(s.healthCheck))
	s.route(mux, "GET /status", public, http.HandlerFunc(s.status))
	s.routeSignIn(mux)

	const project = "/api/v2/project/{vcs}/{org}/{repo}"
	read, write := func(of ProjectOf) Access { return onProject(accounts.Read, of) }, func(of ProjectOf) Access { return onProject(accounts.Write, of) }
	s.route(mux, "GET /api/v2/projects", signedIn, s.api(s.listProjects))
	s.route(mux, "POST /api/v2/project", signedIn, s.api(s.followLocal()))
	s.route(mux, "GET "+project, read(BySlug), s.api(s.getProject))
	s.route(mux, "POST "+project+"/pipeline", write(BySlug), s.api(s.triggerPipeline))
	s.route(mux, "GET "+project+"/pipeline", read(BySlug), s.api(s.listPipelines))
	s.route(mux, "GET "+project+"/pipeline/{number}", read(BySlug), s.api(s.getPipelineByNumber))
	s.route(mux, "GET "+project+"/job/{number}", read(BySlug), s.api(s.getJob))
	s.route(mux, "GET "+project+"/job/{number}/steps", read(BySlug), s.api(s.listSteps))
	s.route(mux, "GET "+project+"/job/{number}/output", read(BySlug), s.api(s.output))
	s.route(mux, "GET /api/v2/pipeline/{id}", read(ByPipeline), s.api(s.getPipeline))
	s.route(mux, "GET /api/v2/pipeline/{id}/config", read(ByPipeline), s.api(s.getPipelineConfig))
	s.route(mux, "GET /api/v2/pipeline/{id}/workflow", read(ByPipeline), s.api(s.listWorkflows))
	s.route(mux, "GET /api/v2/workflow/{id}", read(ByWorkflow), s.api(s.getWorkflow))
	s.route(mux, "GET /api/v2/workflow/{id}/job", read(ByWorkflow), s.api(s.listWorkflowJobs))
	s.routePipelines(mux, project)
	s.routeSchedules(mux, project)
	s.routeProjectsV2(mux, project)
	s.routeOrganizations(mux, project)
	s.routeProjectSettings(mux, project)
	s.routeMe(mux)
	s.routeCompat(mux)
	s.routeUsersV2(mux)
	s.routeUsers(mux)
	s.routeFollow(mux, project)
	s.routeIntegrations(mux)
	if cfg.Controls != nil {
		s.routeControls(mux, project)
	}
	if cfg.Files != nil {
		s.routeJobFiles(mux, project)
	}
	if cfg.Vault != nil {
		s.routeVault(mux, project)
	}
	if cfg.Audit != nil {
		s.routeAdmin(mux)
	}
	if cfg.Notifications != nil {
		s.routeNotifications(mux, project)
	}
	if cfg.Insights != nil {
		s.routeInsights(mux)
	}
	if cfg.Metrics != nil {
		s.route(mux, "GET /metrics", siteAdmin, cfg.Metrics)
	}
	if cfg.Bridge != nil {
		s.route(mux, "GET /bridge/", siteAdmin, http.StripPrefix("/bridge", cfg.Bridge))
	}
	s.route(mux, "GET /api/v2/openapi.json", public, http.HandlerFunc(s.serveOpenAPI))
	s.route(mux, "/api/", public, s.api(func(w http.ResponseWriter, r *http.Request) error {
		return methodNotAllowed(mux, w, r)
	}))

	s.route(mux, "GET /ui/static/", public, http.HandlerFunc(s.serveAsset))
	s.routeUIPipelines(mux)
	s.routeUIJob(mux)
	s.routeUISet(mux)
	s.routeUIAdmin(mux)

	if cfg.Runner != nil {
		s.route(mux, "/runner/v1/", ownAuth, http.StripPrefix("/runner/v1", cfg.Runner))
	}
	if cfg.Blobs != nil {
		s.route(mux, "/blob/", ownAuth, cfg.Blobs)
	}
	if cfg.GitHubWebhooks != nil {
		s.route(mux, "POST /webhooks/github", ownAuth, cfg.GitHubWebhooks)
	}
	if s.openapi, err = s.openAPIDocument(); err != nil {
		return nil, err
	}
	return &Handler{Handler: s.middleware(mux), routes: s.routes, openapi: s.openapi}, nil
}

// Handler is the API and UI; Routes lists its routes with their rules.
type Handler struct {
	http.Handler
	routes  []Route
	openapi []byte
}

// OpenAPI is the document GET /api/v2/openapi.json serves.
func (h *Handler) OpenAPI() []byte { return slices.Clone(h.openapi) }

// Routes lists every registered route with its access rule.
func (h *Handler) Routes() []Route { return slices.Clone(h.routes) }
