package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
)

// The embedded shape stays one command: `orbit up` makes sure a local
// admin exists, writes an API token for the `orbit` CLI into the data
// directory (mode 0600, like ~/.circleci/cli.yml) and prints a one-time
// sign-in link for the browser. The CLI sends $ORBIT_TOKEN, else that
// file's token, as Circle-Token.

// tokenFile holds the CLI's API token in the data directory.
const tokenFile = "token"

// localAdminLogin is the embedded shape's first user.
const localAdminLogin = "admin"

// signInLinkTTL bounds the one-time link `orbit up` prints.
const signInLinkTTL = 24 * time.Hour

// bootstrapLocalAdmin returns the one-time sign-in code for the local
// admin, creating the admin (the first user, so an instance admin and a
// writer of the local organization) and the CLI token when they are
// missing. A token file that still authenticates is kept.
func bootstrapLocalAdmin(ctx context.Context, acc *accounts.Service, rec *audit.Recorder, dataDir string) (string, error) {
	u, err := localAdmin(ctx, acc, rec)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, tokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if tu, err := acc.Authenticate(ctx, strings.TrimSpace(string(b))); err == nil && tu.ID == u.ID {
			return acc.SignInLink(ctx, u.ID, signInLinkTTL)
		}
	}
	tok, _, err := acc.CreateToken(ctx, u.ID, "orbit CLI ("+path+")")
	if err != nil {
		return "", fmt.Errorf("local admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the CLI token: %w", err)
	}
	return acc.SignInLink(ctx, u.ID, signInLinkTTL)
}

// localAdmin returns the local admin, creating them (the first user is an
// instance admin; a later one is made one, since only an operator with
// the store in hand gets here).
func localAdmin(ctx context.Context, acc *accounts.Service, rec *audit.Recorder) (*accounts.User, error) {
	id := accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: localAdminLogin, Login: localAdminLogin,
		Name: "Local admin", LocalRole: "write"}
	u, err := acc.SignInUser(ctx, id)
	if errors.Is(err, accounts.ErrNotFound) {
		if u, err = acc.SignIn(ctx, id); err == nil {
			rec.Must(ctx, audit.Event{Action: audit.UserCreate, Actor: audit.System,
				Target: audit.Entity{ID: u.ID, Type: "user", Name: u.Login}, Success: true})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("local admin: %w", err)
	}
	if u.Admin != accounts.AdminAll {
		if u, err = acc.SetAdmin(ctx, u.ID, accounts.AdminAll); err != nil {
			return nil, fmt.Errorf("local admin: %w", err)
		}
	}
	return u, nil
}

// cliToken is the API token the CLI sends: $ORBIT_TOKEN, else the token
// `orbit up` wrote into the data directory ($ORBIT_DATA, else .orbit).
func cliToken() string {
	if t := os.Getenv("ORBIT_TOKEN"); t != "" {
		return t
	}
	b, err := os.ReadFile(filepath.Join(envOr("ORBIT_DATA", ".orbit"), tokenFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
