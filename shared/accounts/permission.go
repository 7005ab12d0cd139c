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
	// Orgs lists a user's GitHub organizations, for Member; nil: only
	// instance admins and the account's own user belong to a GitHub
	// organization.
	Orgs OrgLister
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

// OrgLister lists the GitHub organizations a user belongs to: the GitHub
// driver's Orgs (token in clear) → organization logins.
type OrgLister interface {
	Orgs(ctx context.Context, token string) ([]string, error)
}

// Member says whether u belongs to the organization "<vcs>/<org>", which
// creating it through the API needs (CircleCI checks the caller's access
// to the VCS organization): instance admins belong everywhere, the local
// organizations' members are the users with a local role, and a GitHub
// organization's are the users GitHub lists in it (Orgs) or whose own
// account it is.
func (p Permissions) Member(ctx context.Context, u *User, vcs, org string) (bool, error) {
	if u.Admin == AdminAll {
		return true, nil
	}
	switch vcs {
	case "local":
		return u.LocalRole != "", nil
	case "gh", "github":
		if strings.EqualFold(u.GitHubLogin, org) && u.GitHubLogin != "" {
			return true, nil
		}
		if p.Orgs == nil || p.Open == nil || len(u.GitHubToken) == 0 {
			return false, nil
		}
		tok, err := p.Open(ctx, u)
		if err != nil {
			return false, fmt.Errorf("open GitHub token of %s: %w", u.Login, err)
		}
		orgs, err := p.Orgs.Orgs(ctx, tok)
		if err != nil {
			return false, fmt.Errorf("GitHub organizations of %s: %w", u.Login, err)
		}
		for _, o := range orgs {
			if strings.EqualFold(o, org) {
				return true, nil
			}
		}
	}
	return false, nil
}
