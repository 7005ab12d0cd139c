// Package lease elects one leader among processes that share a kv store: one
// lease item, written only with conditional writes, that one holder at a time
// renews. The bridge uses it so that at most one `orbit bridge` of an
// installation dispatches while a second instance stands by.
//
//	standby ──Get──▶ absent, released or this holder's own ──▶ Put(IfNotExists | IfVersion v)
//	   │                                                         token+1 ──▶ leader
//	   │             another's, unchanged for its Duration on this clock
//	   │                                               ──▶ Put(IfVersion v) token+1 ──▶ leader
//	   └─────────── otherwise: poll again after Renew (or when the takeover is due)
//
//	leader ──every Renew──▶ Put(IfVersion v, same token) ──ok──▶ valid until
//	   │                                                 sent + Duration − Margin
//	   ├─ a renewal fails, the item was taken, or valid-until passes
//	   │       ──▶ lead's context is cancelled at once; campaign again (standby)
//	   └─ ctx ends or lead returns ──▶ Release (holder "", a standby takes it at once)
//
// Safety needs no synchronised clocks, only clocks that tick at about the
// same rate (the scheme of the DynamoDB Lock Client). A holder measures its
// validity on its own clock from the moment it sent the write that succeeded:
// valid until sent + Duration − Margin. A standby never compares the stored
// expiry with its clock: it takes over only after it has seen the same write
// (the same write id) for the holder's Duration on its own clock, and it saw
// that write after it was made, so after the holder sent it. The holder
// therefore stops at least Margin before any other can take over, whatever
// the clocks' offset; Margin covers the time lead needs to stop and the
// clocks' drift over one Duration. The stored expiry is for people (status
// pages), never for the decision.
//
// Bound on failover: a standby that polls every Renew first sees the dead
// holder's last write at most Renew after it was made and takes over Duration
// later, so within Duration + Renew (plus request latency) of the holder's
// last renewal. A released lease is taken at the standby's next poll.
//
// Fencing: each acquisition stores Token = previous token + 1 (never reset:
// the item is never deleted and carries no TTL), so a resource that records
// the highest token it has seen can refuse a deposed holder's late writes.
//
// A retried write whose first attempt was applied (its answer lost) fails its
// own condition; every write carries a unique write id, so the holder reads
// the item back and recognises its own write instead of believing it lost.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/kv"
)

// Errors. HeldError also matches ErrHeld.
var (
	// ErrHeld: another holder has the lease and it is not yet due for a
	// takeover.
	ErrHeld = errors.New("lease: held by another holder")
	// ErrLost: the lease item changed under a holder (another took it over,
	// or it was released): the holder is not the leader any more.
	ErrLost = errors.New("lease: lost")
)

// HeldError says who holds the lease and when this holder may take it over
// if the holder stops renewing.
type HeldError struct {
	Key    string
	Holder string
	Token  int64
	// TakeoverIn is how long the holder's current write must stay unchanged
	// before a takeover.
	TakeoverIn time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("lease %s: held by %s (token %d); takeover possible in %s if it stops renewing",
		e.Key, e.Holder, e.Token, e.TakeoverIn.Round(time.Millisecond))
}

// Is makes a HeldError match ErrHeld.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Clock is the lease's time source (shared/clock.Real in production).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Defaults of Config.
const (
	DefaultDuration = 15 * time.Second
	DefaultRenew    = 5 * time.Second
	DefaultMargin   = 3 * time.Second
)

// releaseTimeout bounds the release after lead returned (its context may be
// gone).
const releaseTimeout = 5 * time.Second

// Config configures a Lease.
type Config struct {
	// Key names the lease: one per installation and role, e.g.
	// "nomadbridge". The item is PK "LEASE#<Key>", SK "LEASE". Required.
	Key string
	// Holder identifies this process; it must be unique per process start
	// (e.g. host name + random suffix, see NewHolderID): a restarted process
	// must not pass for its former self. Required.
	Holder string
	// Duration is how long a holder's write keeps others from taking over
	// (default 15 s).
	Duration time.Duration
	// Renew is how often the holder renews and a standby polls (default
	// 5 s). Renew + Margin must be less than Duration.
	Renew time.Duration
	// Margin is how much earlier than Duration, after its last successful
	// write, the holder stops considering itself the leader (default 3 s):
	// the time lead needs to stop, plus clock drift.
	Margin time.Duration
	// Clock is the time source (default: the wall clock).
	Clock Clock
	// Logger receives the lease's transitions (default: discarded).
	Logger *slog.Logger
}

// Term is one uninterrupted tenure of this holder.
type Term struct {
	// Token is the fencing token: larger than every earlier term's.
	Token int64
	// AcquiredAt is when this holder sent the write that won the lease (its
	// clock).
	AcquiredAt time.Time
	// ValidUntil is when this holder stops considering itself the leader
	// unless a renewal succeeds first (its clock).
	ValidUntil time.Time
	// version is the item's version after this holder's last write.
	version int64
}

// State is what a Lease knows, for status pages and metrics.
type State struct {
	Key string `json:"key"`
	// Holder is this process's holder id.
	Holder string `json:"holder"`
	// Leader is true while this process holds the lease.
	Leader bool `json:"leader"`
	// Token is the current term's fencing token when Leader, else the last
	// token seen on the item.
	Token int64 `json:"token"`
	// Since is when this process became leader or standby.
	Since time.Time `json:"since"`
	// ValidUntil is, when Leader, when it stops leading without a renewal.
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// CurrentHolder is the holder as last read or written ("" when none).
	CurrentHolder string `json:"current_holder,omitempty"`
	// Acquisitions and Losses count terms won and lost (a release is no
	// loss) since the process started.
	Acquisitions int64 `json:"acquisitions"`
	Losses       int64 `json:"losses"`
	// LastError is the last failed store call or the reason of the last
	// loss ("" when none).
	LastError string `json:"last_error,omitempty"`
}

// record is the lease item's Data.
type record struct {
	// Holder is the holder's id; "" once released.
	Holder string `json:"holder"`
	// Token is the fencing token of the current (or last) term.
	Token int64 `json:"token"`
	// DurationMS is the holder's Config.Duration: a standby waits at least
	// this long.
	DurationMS int64 `json:"duration_ms"`
	// RenewedAt and ExpiresAt are on the holder's clock; for people only.
	RenewedAt time.Time `json:"renewed_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Write is unique per write: how a standby knows the item changed and
	// how a holder recognises its own write after a retried request.
	Write string `json:"write"`
}

func (r record) duration() time.Duration { return time.Duration(r.DurationMS) * time.Millisecond }

// observation is a standby's view of another holder's write.
type observation struct {
	write string
	at    time.Time // first seen, on this clock
}

// Lease is one process's handle on a lease. Use Run, or Acquire, Renew and
// Release directly. It is safe for concurrent use.
type Lease struct {
	store  kv.Store
	cfg    Config
	pk, sk string
	log    *slog.Logger

	mu    sync.Mutex
	seen  observation
	state State
}

// New checks cfg and returns a Lease on store.
func New(store kv.Store, cfg Config) (*Lease, error) {
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Renew == 0 {
		cfg.Renew = DefaultRenew
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultMargin
	}
	switch {
	case store == nil:
		return nil, errors.New("lease: nil store")
	case cfg.Key == "":
		return nil, errors.New("lease: Config.Key is empty")
	case cfg.Holder == "":
		return nil, errors.New("lease: Config.Holder is empty")
	case cfg.Duration < 0 || cfg.Renew < 0 || cfg.Margin < 0:
		return nil, fmt.Errorf("lease %s: negative duration (Duration %s, Renew %s, Margin %s)",
			cfg.Key, cfg.Duration, cfg.Renew, cfg.Margin)
	case cfg.Renew+cfg.Margin >= cfg.Duration:
		return nil, fmt.Errorf("lease %s: Renew (%s) + Margin (%s) must be less than Duration (%s), "+
			"or the holder stops leading before it renews", cfg.Key, cfg.Renew, cfg.Margin, cfg.Duration)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Lease{store: store, cfg: cfg, pk: "LEASE#" + cfg.Key, sk: "LEASE",
		log: cfg.Logger.With("lease", cfg.Key, "holder", cfg.Holder)}
	l.state = State{Key: cfg.Key, Holder: cfg.Holder, Since: cfg.Clock.Now()}
	return l, nil
}

// NewHolderID returns host plus a random suffix: unique per process start.
func NewHolderID(host string) string {
	if host == "" {
		host = "holder"
	}
	return host + "-" + rand.Text()[:10]
}

// State returns a snapshot of what the lease knows.
func (l *Lease) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Acquire makes one attempt to become the leader. It returns the new term,
// an error matching ErrHeld (a *HeldError) while another holder's lease
// stands, or the store's error. A standby calls it every Renew: the takeover
// wait counts from the first call that saw the holder's current write.
func (l *Lease) Acquire(ctx context.Context) (Term, error) {
	term, err := l.acquire(ctx)
	if err != nil && !errors.Is(err, ErrHeld) {
		l.noteError(err)
	}
	return term, err
}

func (l *Lease) acquire(ctx context.Context) (Term, error) {
	cond, token := kv.Condition{IfNotExists: true}, int64(1)
	it, err := l.store.Get(ctx, l.pk, l.sk)
	switch {
	case errors.Is(err, kv.ErrNotFound):
	case err != nil:
		return Term{}, fmt.Errorf("lease %s: read: %w", l.cfg.Key, err)
	default:
		rec, err := l.decode(it)
		if err != nil {
			return Term{}, err
		}
		cond, token = kv.Condition{IfVersion: it.Version}, rec.Token+1
		if rec.Holder != "" && rec.Holder != l.cfg.Holder {
			if wait := l.takeoverIn(rec); wait > 0 {
				return Term{}, &HeldError{Key: l.cfg.Key, Holder: rec.Holder, Token: rec.Token, TakeoverIn: wait}
			}
			l.log.Warn("taking over a lease its holder stopped renewing", "previous_holder", rec.Holder,
				"previous_token", rec.Token, "renewed_at", rec.RenewedAt)
		}
	}
	version, sent, err := l.write(ctx, cond, l.cfg.Holder, token)
	if errors.Is(err, kv.ErrConflict) {
		// Another standby won the race, or the holder renewed meanwhile.
		return Term{}, &HeldError{Key: l.cfg.Key, Holder: "another holder", Token: token, TakeoverIn: l.cfg.Duration}
	}
	if err != nil {
		return Term{}, fmt.Errorf("lease %s: acquire: %w", l.cfg.Key, err)
	}
	term := Term{Token: token, AcquiredAt: sent, ValidUntil: l.validUntil(sent), version: version}
	l.mu.Lock()
	l.state.Leader, l.state.Token, l.state.Since, l.state.ValidUntil = true, token, sent, term.ValidUntil
	l.state.CurrentHolder = l.cfg.Holder
	l.state.Acquisitions++
	l.mu.Unlock()
	l.log.Info("lease acquired", "token", token, "valid_until", term.ValidUntil)
	return term, nil
}

// takeoverIn records the holder's current write as seen now and returns how
// long it must stay unchanged before a takeover (≤ 0: now).
func (l *Lease) takeoverIn(rec record) time.Duration {
	now := l.cfg.Clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.CurrentHolder, l.state.Token = rec.Holder, rec.Token
	if l.seen.write != rec.Write {
		l.seen = observation{write: rec.Write, at: now}
	}
	return max(rec.duration(), l.cfg.Duration) - now.Sub(l.seen.at)
}

// Renew extends term. It returns the renewed term, an error matching ErrLost
// when the item changed under the holder, or the store's error (the holder
// cannot know whether it still leads: Run steps down).
func (l *Lease) Renew(ctx context.Context, term Term) (Term, error) {
	version, sent, err := l.write(ctx, kv.Condition{IfVersion: term.version}, l.cfg.Holder, term.Token)
	if errors.Is(err, kv.ErrConflict) {
		err = fmt.Errorf("lease %s: token %d: %w (the item changed: %w)", l.cfg.Key, term.Token, ErrLost, err)
	} else if err != nil {
		err = fmt.Errorf("lease %s: renew token %d: %w", l.cfg.Key, term.Token, err)
	}
	if err != nil {
		if ctx.Err() == nil {
			l.noteError(err)
		}
		return term, err
	}
	term.version, term.ValidUntil = version, l.validUntil(sent)
	l.mu.Lock()
	if l.state.Leader && l.state.Token == term.Token {
		l.state.ValidUntil = term.ValidUntil
	}
	l.mu.Unlock()
	return term, nil
}

// Release gives the lease up so that a standby takes it at once. Releasing a
// lease already lost is not an error. Call it only once lead has stopped.
func (l *Lease) Release(ctx context.Context, term Term) error {
	l.stepDown("")
	_, _, err := l.write(ctx, kv.Condition{IfVersion: term.version}, "", term.Token)
	if errors.Is(err, kv.ErrConflict) {
		// Renewed meanwhile by a request this holder gave up on? Release
		// that write too; another holder's item stays.
		it, gerr := l.store.Get(ctx, l.pk, l.sk)
		if gerr != nil {
			return nil
		}
		if rec, derr := l.decode(it); derr != nil || rec.Holder != l.cfg.Holder {
			return nil
		}
		_, _, err = l.write(ctx, kv.Condition{IfVersion: it.Version}, "", term.Token)
		if errors.Is(err, kv.ErrConflict) {
			return nil
		}
	}
	if err != nil {
		err = fmt.Errorf("lease %s: release token %d: %w", l.cfg.Key, term.Token, err)
		l.noteError(err)
		return err
	}
	l.log.Info("lease released", "token", term.Token)
	return nil
}

// write stores a record under cond and returns the item's new version and
// when the request was sent.
func (l *Lease) write(ctx context.Context, cond kv.Condition, holder string, token int64) (int64, time.Time, error) {
	sent := l.cfg.Clock.Now()
	rec := record{Holder: holder, Token: token, DurationMS: l.cfg.Duration.Milliseconds(),
		RenewedAt: sent, ExpiresAt: sent.Add(l.cfg.Duration), Write: rand.Text()}
	if holder == "" {
		rec.ExpiresAt = sent
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, sent, err
	}
	stored, err := l.store.Put(ctx, kv.Item{PK: l.pk, SK: l.sk, Data: data}, cond)
	if errors.Is(err, kv.ErrConflict) {
		// A retried request whose first attempt was applied fails its own
		// condition: recognise the write by its id.
		if it, gerr := l.store.Get(ctx, l.pk, l.sk); gerr == nil {
			if cur, derr := l.decode(it); derr == nil && cur.Write == rec.Write {
				return it.Version, sent, nil
			}
		}
	}
	if err != nil {
		return 0, sent, err
	}
	return stored.Version, sent, nil
}

func (l *Lease) validUntil(sent time.Time) time.Time {
	return sent.Add(l.cfg.Duration - l.cfg.Margin)
}

func (l *Lease) decode(it kv.Item) (record, error) {
	var rec record
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return record{}, fmt.Errorf("lease %s: item %s/%s is not a lease record: %w", l.cfg.Key, it.PK, it.SK, err)
	}
	return rec, nil
}

// stepDown records that this process no longer leads; reason is "" for a
// release, else why it lost the lease.
func (l *Lease) stepDown(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.state.Leader {
		return
	}
	l.state.Leader, l.state.ValidUntil, l.state.Since = false, time.Time{}, l.cfg.Clock.Now()
	if reason != "" {
		l.state.Losses++
		l.state.LastError = reason
	}
}

func (l *Lease) noteError(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.LastError = err.Error()
}
