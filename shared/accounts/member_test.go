package accounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// orgsByToken is a GitHub that lists organizations by token.
type orgsByToken map[string][]string

func (o orgsByToken) Orgs(_ context.Context, token string) ([]string, error) {
	if token == "broken" {
		return nil, errors.New("GitHub is down")
	}
	return o[token], nil
}

func TestMember(t *testing.T) {
	p := accounts.Permissions{Orgs: orgsByToken{"tok": {"Acme", "globex"}},
		Open: func(_ context.Context, u *accounts.User) (string, error) { return string(u.GitHubToken), nil }}
	for _, tc := range []struct {
		name     string
		u        accounts.User
		vcs, org string
		want     bool
	}{
		{"an instance admin belongs everywhere", accounts.User{Admin: accounts.AdminAll}, "gh", "initech", true},
		{"a local role is membership of the local organizations", accounts.User{LocalRole: "read"}, "local", "acme", true},
		{"no local role", accounts.User{}, "local", "acme", false},
		{"a GitHub organization GitHub lists, any case", accounts.User{GitHubToken: []byte("tok")}, "gh", "acme", true},
		{"github is gh", accounts.User{GitHubToken: []byte("tok")}, "github", "globex", true},
		{"one GitHub does not list", accounts.User{GitHubToken: []byte("tok")}, "gh", "initech", false},
		{"the user's own account", accounts.User{GitHubLogin: "ada"}, "gh", "Ada", true},
		{"no GitHub account connected", accounts.User{}, "gh", "acme", false},
		{"a settings admin is no member", accounts.User{Admin: accounts.AdminWriteSettings}, "gh", "acme", false},
		{"Bitbucket", accounts.User{GitHubToken: []byte("tok")}, "bb", "acme", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Member(t.Context(), &tc.u, tc.vcs, tc.org)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := p.Member(t.Context(), &accounts.User{Login: "bob", GitHubToken: []byte("broken")}, "gh", "acme")
	assert.ErrorContains(t, err, "GitHub organizations of bob")
	got, err := accounts.Permissions{}.Member(t.Context(), &accounts.User{GitHubToken: []byte("tok")}, "gh", "acme")
	require.NoError(t, err)
	assert.False(t, got, "without an organization lister only admins and the account's own user belong")
}
