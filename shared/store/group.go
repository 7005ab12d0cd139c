package store

import (
	"context"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Groups (CircleCI's organization groups): named sets an organization
// keeps. Orbit's permissions come from the VCS or the local role, so a
// group grants nothing of itself.
//
//	ORG#<owner>   GROUP#<id>   group

// Group is a group of an organization.
type Group struct {
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateGroup stores a new group, or returns ErrExists.
func (s *Store) CreateGroup(ctx context.Context, g Group) (Group, error) {
	g.CreatedAt = s.Now()
	it, err := item("ORG#"+g.Owner, "GROUP#"+g.ID, g)
	if err != nil {
		return Group{}, err
	}
	if err := s.create(ctx, it); err != nil {
		return Group{}, fmt.Errorf("create group %s: %w", g.Name, err)
	}
	return g, nil
}

// GetGroup returns a group of the owner.
func (s *Store) GetGroup(ctx context.Context, owner, id string) (Group, error) {
	var g Group
	if _, err := s.get(ctx, "ORG#"+owner, "GROUP#"+id, &g); err != nil {
		return Group{}, fmt.Errorf("group %s: %w", id, err)
	}
	return g, nil
}

// ListGroups returns the owner's groups by id.
func (s *Store) ListGroups(ctx context.Context, owner string) ([]Group, error) {
	return queryAll[Group](ctx, s, kv.Query{PK: "ORG#" + owner, Prefix: "GROUP#"})
}

// DeleteGroup deletes a group, or returns ErrNotFound.
func (s *Store) DeleteGroup(ctx context.Context, owner, id string) error {
	return s.deleteExisting(ctx, "ORG#"+owner, "GROUP#"+id)
}
