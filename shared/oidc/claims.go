package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Custom claims (CircleCI's "OIDC custom claims"): an organization's, and
// a project's, audience and token time to live. A project's own claims
// override its organization's claim by claim.
//
//	OIDC#CLAIMS   ORG#<org id>                      org claims
//	OIDC#CLAIMS   PROJECT#<org id>#<project id>     project claims

// ErrInvalid: a claim is not acceptable (the API's 400).
var ErrInvalid = errors.New("invalid OIDC claim")

// Claims are the custom claims of an organization or a project.
type Claims struct {
	Audience          []string   `json:"audience,omitempty"`
	AudienceUpdatedAt *time.Time `json:"audience_updated_at,omitempty"`
	// TTL is a JSON duration ("1h", "90m", "1d12h"), "" for the default.
	TTL          string     `json:"ttl,omitempty"`
	TTLUpdatedAt *time.Time `json:"ttl_updated_at,omitempty"`
}

// Patch is a change of claims; nil fields are kept.
type Patch struct {
	Audience []string
	TTL      *string
}

// Token lifetimes a TTL may set, as CircleCI allows them.
const (
	MinTTL     = 5 * time.Minute
	MaxTTL     = 24 * time.Hour
	DefaultTTL = time.Hour
)

// Claim names Delete takes.
const (
	ClaimAudience = "audience"
	ClaimTTL      = "ttl"
)

const claimsPK = "OIDC#CLAIMS"

func orgSK(orgID string) string                { return "ORG#" + orgID }
func projectSK(orgID, projectID string) string { return "PROJECT#" + orgID + "#" + projectID }

// Scope names whose claims: an organization's (ProjectID "") or a
// project's.
type Scope struct{ OrgID, ProjectID string }

func (sc Scope) sk() string {
	if sc.ProjectID == "" {
		return orgSK(sc.OrgID)
	}
	return projectSK(sc.OrgID, sc.ProjectID)
}

// GetClaims returns a scope's claims (empty when none were set).
func (i *Issuer) GetClaims(ctx context.Context, sc Scope) (Claims, error) {
	c, _, err := i.claims(ctx, sc)
	return c, err
}

func (i *Issuer) claims(ctx context.Context, sc Scope) (Claims, int64, error) {
	it, err := i.cfg.KV.Get(ctx, claimsPK, sc.sk())
	if errors.Is(err, kv.ErrNotFound) {
		return Claims{}, 0, nil
	}
	if err != nil {
		return Claims{}, 0, err
	}
	var c Claims
	if err := json.Unmarshal(it.Data, &c); err != nil {
		return Claims{}, 0, fmt.Errorf("decode OIDC claims %s: %w", sc.sk(), err)
	}
	return c, it.Version, nil
}

// PatchClaims sets the claims p gives.
func (i *Issuer) PatchClaims(ctx context.Context, sc Scope, p Patch) (Claims, error) {
	if p.TTL != nil {
		if _, err := ParseTTL(*p.TTL); err != nil {
			return Claims{}, err
		}
	}
	for n, a := range p.Audience {
		if a == "" {
			return Claims{}, fmt.Errorf("%w: audience[%d] is empty", ErrInvalid, n)
		}
	}
	return i.changeClaims(ctx, sc, func(c *Claims, now time.Time) {
		if p.Audience != nil {
			c.Audience, c.AudienceUpdatedAt = slices.Clone(p.Audience), &now
		}
		if p.TTL != nil {
			c.TTL, c.TTLUpdatedAt = *p.TTL, &now
		}
	})
}

// DeleteClaims removes the named claims (ClaimAudience, ClaimTTL).
func (i *Issuer) DeleteClaims(ctx context.Context, sc Scope, names []string) (Claims, error) {
	if len(names) == 0 {
		return Claims{}, fmt.Errorf("%w: name the claims to delete: audience, ttl", ErrInvalid)
	}
	for _, n := range names {
		if n != ClaimAudience && n != ClaimTTL {
			return Claims{}, fmt.Errorf("%w: claim %q: want audience or ttl", ErrInvalid, n)
		}
	}
	return i.changeClaims(ctx, sc, func(c *Claims, _ time.Time) {
		if slices.Contains(names, ClaimAudience) {
			c.Audience, c.AudienceUpdatedAt = nil, nil
		}
		if slices.Contains(names, ClaimTTL) {
			c.TTL, c.TTLUpdatedAt = "", nil
		}
	})
}

func (i *Issuer) changeClaims(ctx context.Context, sc Scope, fn func(*Claims, time.Time)) (Claims, error) {
	for range 20 {
		c, ver, err := i.claims(ctx, sc)
		if err != nil {
			return Claims{}, err
		}
		fn(&c, i.now())
		b, err := json.Marshal(c)
		if err != nil {
			return Claims{}, err
		}
		cond := kv.Condition{IfVersion: ver}
		if ver == 0 {
			cond = kv.Condition{IfNotExists: true}
		}
		_, err = i.cfg.KV.Put(ctx, kv.Item{PK: claimsPK, SK: sc.sk(), Data: b}, cond)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		return c, err
	}
	return Claims{}, fmt.Errorf("OIDC claims %s: too much contention", sc.sk())
}

var jsonDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w)){1,7}$`)
var durationPart = regexp.MustCompile(`([0-9]+)(ms|s|m|h|d|w)`)

// ParseTTL reads CircleCI's JSON duration ("1h", "1d12h", "90m") and
// checks it is between MinTTL and MaxTTL.
func ParseTTL(s string) (time.Duration, error) {
	if !jsonDuration.MatchString(s) {
		return 0, fmt.Errorf("%w: ttl %q: write a duration such as 1h, 90m or 1d", ErrInvalid, s)
	}
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	var d time.Duration
	for _, m := range durationPart.FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > int64(MaxTTL) {
			return 0, fmt.Errorf("%w: ttl %q is too long; the limit is %s", ErrInvalid, s, MaxTTL)
		}
		d += time.Duration(n) * unit[m[2]]
	}
	if d < MinTTL || d > MaxTTL {
		return 0, fmt.Errorf("%w: ttl %q: a token lives between %s and %s", ErrInvalid, s, MinTTL, MaxTTL)
	}
	return d, nil
}
