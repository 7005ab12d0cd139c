package accounts

import (
	"context"
	"fmt"
	"strings"
)

// Level is what a user may do on a project or organization.
type Level int

// Levels, each including the ones before it.
const (
	// None: the user may not even know the project exists (404).
	None Level = iota
	// Read sees pipelines, workflows, jobs, output and (masked) settings.
	Read
	// Write also triggers, reruns, cancels and approves.
	Write
	// Admin also changes settings, variables and keys.
	Admin
)

func (l Level) String() string {
	return [...]string{"none", "read", "write", "admin"}[l]
}

// ParseLevel reads a VCS permission: "admin", "write", "read" or "none".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "admin":
		return Admin, nil
	case "write":
		return Write, nil
	case "read":
		return Read, nil
	case "none", "":
		return None, nil
	}
	return None, fmt.Errorf("%w: permission %q", ErrInvalid, s)
}

// RepoPermissions tells a user's permission on a GitHub repository: the
// GitHub driver's Permission method (token in clear, owner, repo) →
// "admin"|"write"|"read"|"none".
type RepoPermissions interface {
	Permission(ctx context.Context, token, owner, repo string) (string, error)
}

// TokenOpener opens a user's sealed GitHub token.
type TokenOpener func(ctx context.Context, u *User) (string, error)

// Permissions answers what a user may do where. Local-git projects belong
// to the local organization, whose members are the users with a local
// role; GitHub projects ask GitHub with the user's token. Instance admins
// (AdminAll) administer everything.
type Permissions struct {
	// GitHub answers for gh/ and github/ projects; nil: GitHub projects are
	// invisible to everyone but instance admins.
	GitHub RepoPermissions
	// Open unseals a user's GitHub token; required with GitHub.
	Open TokenOpener
}

// Project returns u's level on the project "<vcs>/<org>/<repo>" (repo may
// be empty for an organization-wide question, such as a context's owner).
func (p Permissions) Project(ctx context.Context, u *User, vcs, org, repo string) (Level, error) {
	if u.Admin == AdminAll {
		return Admin, nil
	}
	switch vcs {
	case "local":
		switch u.LocalRole {
		case "write":
			return Write, nil
		case "read":
			return Read, nil
		}
		return None, nil
	case "gh", "github":
		if p.GitHub == nil || p.Open == nil || len(u.GitHubToken) == 0 || repo == "" {
			return None, nil
		}
		tok, err := p.Open(ctx, u)
		if err != nil {
			return None, fmt.Errorf("open GitHub token of %s: %w", u.Login, err)
		}
		perm, err := p.GitHub.Permission(ctx, tok, org, repo)
		if err != nil {
			return None, fmt.Errorf("GitHub permission of %s on %s/%s: %w", u.Login, org, repo, err)
		}
		return ParseLevel(strings.ToLower(perm))
	}
	return None, nil
}
