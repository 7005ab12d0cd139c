// Package notify mails the user who triggered a workflow when it fails or
// is fixed (a success after a failure of the same workflow on the same
// branch), as CircleCI Server does through its exim container. It watches
// the store's status changes (store.Observer) and keeps its own records in
// the kv port:
//
//	NOTIFY#USER#<login>      META               {email, enabled}  per-user setting
//	NOTIFY#PROJECT#<slug>    META               {enabled}         per-project setting (default on)
//	NOTIFY#PROJECT#<slug>    LAST#<branch>#<workflow>  last outcome, to tell "fixed"
//	NOTIFY#OUTBOX            <mail id>          a mail not yet sent
//
//	workflow terminal ─▶ failed / fixed? ─▶ both settings on, user has an email
//	   ─▶ outbox item (id from workflow id + kind: a replay queues it once)
//	Send(ctx) (cron each minute; a loop in `orbit up`) ─▶ Mailer.Send ─▶ delete
//	   a failed send keeps the mail for the next Send
//
// A mail names the project, branch, workflow and a link: never a variable
// or any other secret.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// Message is one mail.
type Message struct {
	ID      string `json:"id"`
	From    string `json:"from"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Mailer sends a mail: SMTP (embedded) or SES (aws).
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Pipelines reads a workflow's pipeline (*store.Store).
type Pipelines interface {
	GetPipeline(ctx context.Context, id string) (store.Pipeline, error)
}

// Config configures a Notifier.
type Config struct {
	// KV keeps settings, outcomes and the outbox. Required.
	KV kv.Store
	// Pipelines finds who triggered a workflow and on which branch. Required.
	Pipelines Pipelines
	// Mailer sends; nil queues mails that nothing sends.
	Mailer Mailer
	// From is the sender address.
	From string
	// BaseURL is Orbit's URL for the link in each mail.
	BaseURL string
	// DefaultActor is whose mails a pipeline with no actor triggers ("" none).
	// The embedded shape's single user until accounts name the triggerer.
	DefaultActor string
	// Logger receives errors; nil discards.
	Logger *slog.Logger
}

// Notifier decides and sends the mails. Safe for concurrent use.
type Notifier struct{ cfg Config }

// New returns a Notifier.
func New(cfg Config) (*Notifier, error) {
	if cfg.KV == nil || cfg.Pipelines == nil {
		return nil, errors.New("notify: Config.KV and Config.Pipelines are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.From == "" {
		cfg.From = "orbit@localhost"
	}
	return &Notifier{cfg: cfg}, nil
}

var _ store.Observer = (*Notifier)(nil)

// UserSetting is a user's choice: mails to Email when Enabled.
type UserSetting struct {
	Email   string `json:"email"`
	Enabled bool   `json:"enabled"`
}

// ProjectSetting turns a project's mails off (Enabled false).
type ProjectSetting struct {
	Enabled bool `json:"enabled"`
}

// SetUser stores a user's setting.
func (n *Notifier) SetUser(ctx context.Context, login string, s UserSetting) error {
	if s.Enabled && !strings.Contains(s.Email, "@") {
		return fmt.Errorf("%w: email %q is not an address", ErrInvalid, s.Email)
	}
	return n.put(ctx, "NOTIFY#USER#"+login, "META", s)
}

// SetProject stores a project's setting.
func (n *Notifier) SetProject(ctx context.Context, slug string, s ProjectSetting) error {
	return n.put(ctx, "NOTIFY#PROJECT#"+slug, "META", s)
}

// ErrInvalid: a setting is malformed.
var ErrInvalid = errors.New("invalid notification setting")

func (n *Notifier) put(ctx context.Context, pk, sk string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = n.cfg.KV.Put(ctx, kv.Item{PK: pk, SK: sk, Data: b}, kv.Condition{})
	return err
}

func (n *Notifier) get(ctx context.Context, pk, sk string, v any) (bool, error) {
	it, err := n.cfg.KV.Get(ctx, pk, sk)
	if errors.Is(err, kv.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(it.Data, v)
}

// JobChanged implements store.Observer: jobs send no mail.
func (n *Notifier) JobChanged(context.Context, status.Job, store.Job) {}

// WorkflowChanged implements store.Observer: a workflow that ended failed
// or fixed queues a mail to its triggerer.
func (n *Notifier) WorkflowChanged(ctx context.Context, from status.Workflow, w store.Workflow) {
	if from == "" || !w.Status.Terminal() {
		return
	}
	if err := n.workflowEnded(ctx, w); err != nil {
		n.cfg.Logger.ErrorContext(ctx, "workflow notification", "workflow_id", w.ID, "error", err)
	}
}

// Outcome kinds.
const (
	Failed = "failed"
	Fixed  = "fixed"
)

func (n *Notifier) workflowEnded(ctx context.Context, w store.Workflow) error {
	var outcome string
	switch w.Status {
	case status.WorkflowSuccess:
		outcome = "success"
	case status.WorkflowFailed, status.WorkflowError:
		outcome = Failed
	default:
		return nil // canceled, not run: neither failed nor fixed
	}
	p, err := n.cfg.Pipelines.GetPipeline(ctx, w.PipelineID)
	if err != nil {
		return err
	}
	branch := p.VCS.Branch
	if branch == "" {
		branch = "tag:" + p.VCS.Tag
	}
	pk, lastSK := "NOTIFY#PROJECT#"+w.ProjectSlug, "LAST#"+branch+"#"+w.Name
	var last struct {
		Status string `json:"status"`
	}
	if _, err := n.get(ctx, pk, lastSK, &last); err != nil {
		return err
	}
	if err := n.put(ctx, pk, lastSK, map[string]string{"status": outcome, "workflow_id": w.ID}); err != nil {
		return err
	}
	kind := outcome
	if outcome == "success" {
		if last.Status != Failed {
			return nil
		}
		kind = Fixed
	}
	proj := ProjectSetting{Enabled: true}
	if _, err := n.get(ctx, pk, "META", &proj); err != nil || !proj.Enabled {
		return err
	}
	actor := p.Trigger.Actor
	if actor == "" {
		actor = n.cfg.DefaultActor
	}
	if actor == "" {
		return nil
	}
	var user UserSetting
	if ok, err := n.get(ctx, "NOTIFY#USER#"+actor, "META", &user); err != nil || !ok || !user.Enabled || user.Email == "" {
		return err
	}
	m := n.message(w, p, branch, kind, user.Email)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = n.cfg.KV.Put(ctx, kv.Item{PK: outboxPK, SK: m.ID, Data: b}, kv.Condition{IfNotExists: true})
	if errors.Is(err, kv.ErrConflict) {
		return nil
	}
	return err
}

const outboxPK = "NOTIFY#OUTBOX"

func (n *Notifier) message(w store.Workflow, p store.Pipeline, branch, kind, to string) Message {
	verb := map[string]string{Failed: "Failed", Fixed: "Fixed"}[kind]
	link := strings.TrimRight(n.cfg.BaseURL, "/") + "/ui/pipeline/" + p.ID
	return Message{
		ID:      w.ID + "#" + kind,
		From:    n.cfg.From,
		To:      to,
		Subject: fmt.Sprintf("%s: %s workflow %s on %s", verb, w.ProjectSlug, w.Name, branch),
		Body: fmt.Sprintf("%s: workflow %s of %s (pipeline %d) on %s is %s.\n\n%s\n",
			verb, w.Name, w.ProjectSlug, p.Number, branch, w.Status, link),
	}
}

// Send mails what the outbox holds and returns how many it sent. A failed
// mail stays for the next call; the others go on.
func (n *Notifier) Send(ctx context.Context) (int, error) {
	if n.cfg.Mailer == nil {
		return 0, nil
	}
	sent := 0
	var errs []error
	q := kv.Query{PK: outboxPK}
	for {
		page, err := n.cfg.KV.Query(ctx, q)
		if err != nil {
			return sent, err
		}
		for _, it := range page.Items {
			var m Message
			if err := json.Unmarshal(it.Data, &m); err != nil {
				errs = append(errs, fmt.Errorf("notify outbox %s: %w", it.SK, err))
				continue
			}
			if err := n.cfg.Mailer.Send(ctx, m); err != nil {
				errs = append(errs, fmt.Errorf("mail %s to %s: %w", m.ID, m.To, err))
				continue
			}
			sent++
			if err := n.cfg.KV.Delete(ctx, outboxPK, it.SK, kv.Condition{}); err != nil {
				errs = append(errs, err)
			}
		}
		if page.Cursor == "" {
			return sent, errors.Join(errs...)
		}
		q.Cursor = page.Cursor
	}
}
