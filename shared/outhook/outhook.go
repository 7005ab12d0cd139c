// Package outhook delivers CircleCI's outbound webhooks: a project's
// subscriptions (store.Webhook) to its workflow-completed and job-completed
// events, POSTed as CircleCI's JSON payloads and signed with the webhook's
// secret.
//
//	store status change (store.Observer, in the writer's goroutine)
//	   workflow or build job reaches a terminal status
//	   ─▶ for each webhook of the project subscribed to the event:
//	      build the payload once ─▶ kv outbox item OUTHOOK#OUTBOX / <delivery id>
//	      (IfNotExists: a replayed change queues it once)
//	Send(ctx) (the cron Lambda each minute; a loop in `orbit up`)
//	   for each due item: claim it (conditional write: attempts+1, next try
//	   at now + backoff) ─▶ POST body, circleci-signature: v1=<HMAC-SHA256>
//	   ─▶ 2xx: delete the item │ else: it waits for its next try;
//	      after MaxAttempts it is dropped and logged
//
// The outbox lives in the kv port, so a delivery survives a restart; the
// claim is written before the POST, so a process that dies mid-delivery
// leaves the item to be tried again at its next try time, and two senders
// never POST the same item in the same round. A delivery's id (the
// payload's "id") is derived from the webhook and the event, so every try
// of it, and a replayed event, carry the same id: receivers deduplicate on
// it, as CircleCI documents.
//
// The signing secret is sealed by the secrets port (Create, Update) bound
// to its webhook, opened only to sign, and never logged or returned: the
// API shows its mask.
package outhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// Records is what outhook reads and writes of the store (*store.Store).
type Records interface {
	CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error)
	GetWebhook(ctx context.Context, id string) (store.Webhook, error)
	UpdateWebhook(ctx context.Context, id string, fn func(*store.Webhook) error) (store.Webhook, error)
	ListWebhooks(ctx context.Context, slug string) ([]store.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	GetPipeline(ctx context.Context, id string) (store.Pipeline, error)
	GetWorkflow(ctx context.Context, id string) (store.Workflow, error)
}

// Sealer seals and opens the signing secrets (the secrets port's
// *secrets.Sealer).
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, aad map[string]string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, aad map[string]string) ([]byte, error)
}

// Config configures a Service.
type Config struct {
	// KV keeps the outbox. Required.
	KV kv.Store
	// Records keeps the webhooks and reads the pipelines. Required.
	Records Records
	// Sealer seals the signing secrets. Required.
	Sealer Sealer
	// Client POSTs to webhooks with verify-tls on; nil: a client with
	// Timeout. Tests give one that trusts their receiver's certificate.
	Client *http.Client
	// Timeout bounds one POST (CircleCI waits 5 seconds); 0 means 5s.
	Timeout time.Duration
	// BaseURL is Orbit's URL, for the payload's workflow url.
	BaseURL string
	// MaxAttempts is how many times a delivery is tried before it is
	// dropped; 0 means 12 (about 9 hours with the default backoff).
	MaxAttempts int
	// Backoff is the wait after the first failed try, doubled after each
	// further one up to MaxBackoff; 0 means 10s.
	Backoff time.Duration
	// MaxBackoff caps the wait between tries; 0 means 1h.
	MaxBackoff time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives delivery failures (never a secret); nil discards.
	Logger *slog.Logger
}

// Service keeps webhooks and delivers their events. Safe for concurrent
// use.
type Service struct {
	cfg      Config
	verify   *http.Client
	insecure *http.Client
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.KV == nil || cfg.Records == nil || cfg.Sealer == nil {
		return nil, errors.New("outhook: Config.KV, Config.Records and Config.Sealer are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	verify := cfg.Client
	if verify == nil {
		verify = &http.Client{Timeout: cfg.Timeout}
	}
	return &Service{cfg: cfg, verify: verify, insecure: insecureClient(cfg.Timeout)}, nil
}

var _ store.Observer = (*Service)(nil)

// backoff is the wait before the try after attempt n (1-based) failed.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
