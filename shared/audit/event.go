// Package audit records who did what in Orbit, in the event schema of
// CircleCI Server's audit log (the seed's "Audit Log Fields"), and keeps the
// events as JSON files, one per hour, under audit-logs/audit_log/v1/ in the
// blob store, where an operator's scripts find them as they find
// CircleCI's.
//
//	Record(ctx, event) ─▶ kv outbox item AUDIT#OUTBOX / <hour>#<id>   (never the blob store)
//	Flush(ctx)  (cron function each minute; a loop in `orbit up`)
//	   ─▶ take the flush lock ─▶ for each hour with pending events:
//	      read that hour's file ─▶ merge by event id ─▶ put the file
//	      ─▶ delete the flushed outbox items
//	   a failed put leaves the items in the outbox: the next Flush retries
//
// So an event survives a blob store that fails for a while (none lost) and
// a replayed event lands once per file (the merge keys on its id); an
// event recorded twice after its first copy was flushed appears twice with
// one id, which the seed allows ("the id field ... can be used to identify
// duplicate entries"). Nothing runs in the background: a Lambda may return
// as soon as Record has written the outbox.
package audit

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Version is the event schema's version: always 1 (the seed).
const Version = 1

// Actions: every action of the seed's two lists.
const (
	ContextCreate         = "context.create"
	ContextDelete         = "context.delete"
	ContextEnvVarDelete   = "context.env_var.delete"
	ContextEnvVarStore    = "context.env_var.store"
	ProjectAdd            = "project.add"
	ProjectFollow         = "project.follow"
	ProjectUnfollow       = "project.unfollow"
	ProjectSettingsUpdate = "project.settings.update"
	ProjectStopBuilding   = "project.stop_building"
	ProjectEnvVarCreate   = "project.env_var.create"
	ProjectEnvVarDelete   = "project.env_var.delete"
	UserCreate            = "user.create"
	UserLoggedIn          = "user.logged_in"
	UserLoggedOut         = "user.logged_out"
	UserSuspended         = "user.suspended"
	WorkflowStart         = "workflow.start"
	WorkflowError         = "workflow.error"
	WorkflowRetry         = "workflow.retry"
	JobScheduled          = "workflow.job.scheduled"
	JobStart              = "workflow.job.start"
	JobFinish             = "workflow.job.finish"
	JobApprove            = "workflow.job.approve"
	JobContextRequest     = "workflow.job.context.request"
)

// Actions lists every action above, in the seed's order.
var Actions = []string{
	ContextCreate, ContextDelete, ContextEnvVarDelete, ContextEnvVarStore,
	ProjectAdd, ProjectFollow, ProjectUnfollow, ProjectSettingsUpdate, ProjectStopBuilding,
	ProjectEnvVarCreate, ProjectEnvVarDelete,
	UserCreate, UserLoggedIn, UserLoggedOut, UserSuspended,
	WorkflowStart, WorkflowError, WorkflowRetry,
	JobScheduled, JobStart, JobFinish, JobApprove, JobContextRequest,
}

// Admin actions Orbit adds for the seed's REPL tasks (the seed asks that
// they be audited; it names no action for them).
const (
	AdminCancelQueued = "admin.queue.cancel"
	AdminDeleteBuild  = "admin.build.delete"
	AdminAuditExport  = "admin.audit_log.export"
	// AdminNodeDrain, AdminNodeUndrain: a Nomad client drained or put
	// back to work from the admin pages.
	AdminNodeDrain   = "admin.node.drain"
	AdminNodeUndrain = "admin.node.undrain"
)

// Entity is an actor, target or scope: always id and type, usually name.
type Entity struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

// System is the actor of events Orbit causes itself (the conductor moving
// a job along); Anonymous the actor of a request nobody signed in for.
var (
	System    = Entity{ID: "orbit", Type: "system", Name: "orbit"}
	Anonymous = Entity{ID: "anonymous", Type: "user", Name: "anonymous"}
)

// Request ties an event to the external request that caused it.
type Request struct {
	// ID is the request id Orbit gave the request (X-Request-Id).
	ID string `json:"id"`
	// IPAddress is the client's address in dotted notation.
	IPAddress string `json:"ip_address,omitempty"`
	// ClientTraceID is the client's X-Client-Trace-Id header.
	ClientTraceID string `json:"client_trace_id,omitempty"`
}

// Event is one audit event, field for field the seed's.
type Event struct {
	// ID is a UUID unique per event; a replay of the same event keeps it.
	ID string `json:"id"`
	// Version is always 1.
	Version int `json:"version"`
	// Action is lowercase words separated by dots, entity first.
	Action string `json:"action"`
	// Actor did it; Target was acted on; Scope is the account that owns
	// the target.
	Actor  Entity `json:"actor"`
	Target Entity `json:"target"`
	Scope  Entity `json:"scope"`
	// Payload is the action's own information (never a secret value).
	Payload map[string]any `json:"payload"`
	// OccurredAt is when, in UTC, written ISO-8601 with up to nine
	// fractional digits.
	OccurredAt time.Time `json:"-"`
	// Metadata are string pairs attached to the event.
	Metadata map[string]string `json:"metadata"`
	// Success says whether the action succeeded.
	Success bool `json:"success"`
	// Request is the external request, when one caused the event.
	Request Request `json:"request"`
}

// TimeFormat is occurred_at's format: RFC 3339 in UTC, trailing zeros of
// the fraction dropped (at most nine digits), e.g. 2017-12-21T13:50:54.474Z.
const TimeFormat = "2006-01-02T15:04:05.999999999Z"

type wireEvent Event

type wire struct {
	*wireEvent
	OccurredAt string `json:"occurred_at"`
}

// MarshalJSON writes the event with occurred_at in TimeFormat and empty
// payload and metadata as {}.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Payload == nil {
		e.Payload = map[string]any{}
	}
	if e.Metadata == nil {
		e.Metadata = map[string]string{}
	}
	return json.Marshal(wire{wireEvent: (*wireEvent)(&e), OccurredAt: e.OccurredAt.UTC().Format(TimeFormat)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	w := wire{wireEvent: (*wireEvent)(e)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, w.OccurredAt)
	if err != nil {
		return fmt.Errorf("audit event %s: occurred_at %q: %w", e.ID, w.OccurredAt, err)
	}
	e.OccurredAt = t.UTC()
	return nil
}

// Validate checks what every stored event must have.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("audit event: no id")
	case e.Version != Version:
		return fmt.Errorf("audit event %s: version %d, want %d", e.ID, e.Version, Version)
	case e.Action == "" || e.Action != strings.ToLower(e.Action) || strings.ContainsAny(e.Action, " \t"):
		return fmt.Errorf("audit event %s: action %q is not lowercase words separated by dots", e.ID, e.Action)
	case e.Actor.ID == "" || e.Actor.Type == "":
		return fmt.Errorf("audit event %s (%s): actor needs id and type", e.ID, e.Action)
	case e.Target.ID == "" || e.Target.Type == "":
		return fmt.Errorf("audit event %s (%s): target needs id and type", e.ID, e.Action)
	case e.OccurredAt.IsZero():
		return fmt.Errorf("audit event %s (%s): no occurred_at", e.ID, e.Action)
	}
	return nil
}
