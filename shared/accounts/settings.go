package accounts

import (
	"context"
	"errors"
	"strings"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Settings are the seed's account settings an admin changes.
type Settings struct {
	// SuspendNewUsers: new accounts are created suspended and wait for an
	// admin to activate them ("Suspend New Users").
	SuspendNewUsers bool `json:"suspend_new_users"`
	// RequiredOrgs: a user in none of these organizations cannot register
	// ("Required Org Membership List"); empty lets anyone register.
	RequiredOrgs []string `json:"required_orgs,omitempty"`
	// LoginBanner is shown on the sign-in page (the seed's
	// LOGIN_BANNER_MESSAGE); empty shows none.
	LoginBanner string `json:"login_banner,omitempty"`
	// UnsafeArtifacts is the seed's "Serve Artifacts with Unsafe
	// Content-Types": artifacts are served with their stored content type
	// instead of the safe list's (what the server's configuration may
	// also turn on for good).
	UnsafeArtifacts bool `json:"serve_unsafe_artifacts,omitempty"`
}

// ParseOrgList splits the seed's comma-separated organization list.
func ParseOrgList(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// Settings returns the account settings (zero until set).
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	var set Settings
	_, err := s.get(ctx, "ACCOUNTS", "SETTINGS", &set)
	if errors.Is(err, ErrNotFound) {
		return Settings{}, nil
	}
	return set, err
}

// SetSettings replaces the account settings.
func (s *Service) SetSettings(ctx context.Context, set Settings) error {
	it, err := record("ACCOUNTS", "SETTINGS", set)
	if err != nil {
		return err
	}
	_, err = s.kv.Put(ctx, it, kv.Condition{})
	return err
}
