package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// URLOrbAllowEntry is one entry of an organization's URL orb allow-list
// (CircleCI's url-orb-allow-list API): a config of one of its projects may
// import an orb by URL (`orbs: x: https://…`) when the URL starts with an
// entry's Prefix.
type URLOrbAllowEntry struct {
	ID string `json:"id"`
	// Owner is the organization slug ("local/acme", "gh/acme").
	Owner  string `json:"owner"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Auth is how the orb is fetched: "none" (Orbit fetches only without
	// credentials; the other CircleCI values are refused by the API).
	Auth      string    `json:"auth"`
	CreatedAt time.Time `json:"created_at"`
}

// PutURLOrbAllowEntry stores a new entry (ErrExists when its id is taken).
func (s *Store) PutURLOrbAllowEntry(ctx context.Context, e URLOrbAllowEntry) (URLOrbAllowEntry, error) {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.Now()
	}
	it, err := item("OWNER#"+e.Owner, "URLORB#"+e.ID, e)
	if err != nil {
		return e, err
	}
	if _, err := s.kv.Put(ctx, it, kv.Condition{IfNotExists: true}); err != nil {
		if errors.Is(err, kv.ErrConflict) {
			return e, fmt.Errorf("URL orb allow-list entry %s: %w", e.ID, ErrExists)
		}
		return e, fmt.Errorf("store URL orb allow-list entry of %s: %w", e.Owner, err)
	}
	return e, nil
}

// URLOrbAllowList is an organization's allow-list, oldest entry id first.
func (s *Store) URLOrbAllowList(ctx context.Context, owner string) ([]URLOrbAllowEntry, error) {
	return queryAll[URLOrbAllowEntry](ctx, s, kv.Query{PK: "OWNER#" + owner, Prefix: "URLORB#"})
}

// DeleteURLOrbAllowEntry removes an entry; ErrNotFound when it is not
// one of owner's.
func (s *Store) DeleteURLOrbAllowEntry(ctx context.Context, owner, id string) error {
	var e URLOrbAllowEntry
	ver, err := s.get(ctx, "OWNER#"+owner, "URLORB#"+id, &e)
	if err != nil {
		return fmt.Errorf("URL orb allow-list entry %s: %w", id, err)
	}
	if err := s.kv.Delete(ctx, "OWNER#"+owner, "URLORB#"+id, kv.Condition{IfVersion: ver}); err != nil {
		return fmt.Errorf("delete URL orb allow-list entry %s: %w", id, err)
	}
	return nil
}
