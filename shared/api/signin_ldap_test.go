package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/ldapauth"
	"github.com/orbit-ci/orbit/shared/ldapauth/ldapauthtest"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
)

// TestLDAPSignIn signs users in through the real slapd make test starts,
// over StartTLS, with the Required Org Membership List on their groups.
func TestLDAPSignIn(t *testing.T) {
	set := ldapauthtest.Settings(t, ldapauth.StartTLS)
	set.TestUsername, set.TestPassword = ldapauthtest.Bob.Username, ldapauthtest.Bob.Password
	l, err := ldapauth.New(set)
	require.NoError(t, err)
	e := newEnv(t, func(c *api.Config) { c.SignIn.Password = l })
	require.Equal(t, http.StatusOK, e.do(http.MethodPut, "/api/v2/admin/settings", `{"required_orgs":["developers","ops"]}`).Code)

	post := func(user, pass string) (*browser, *url.URL) {
		b := newBrowser(t, e.h)
		form := url.Values{"username": {user}, "password": {pass}, "next": {"/"}}
		rec := b.do(http.MethodPost, "/login/password", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		loc, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		return b, loc
	}

	b, loc := post(ldapauthtest.Alice.Username, ldapauthtest.Alice.Password)
	assert.Equal(t, "/", loc.String())
	rec := b.do(http.MethodGet, "/api/v2/me", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "alice", decodeBody[obj](t, rec)["login"])
	alice, err := e.acc.ByLogin(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, accounts.ProviderLDAP, alice.Provider)

	for _, bad := range [][2]string{{"alice", "wrong"}, {"nobody", "x"}, {"alice)(uid=*", "x"}} {
		_, loc = post(bad[0], bad[1])
		assert.Equal(t, "/login", loc.Path)
		assert.Equal(t, "wrong username or password", loc.Query().Get("error"), "the same answer for %q", bad[0])
	}
	// dave is in no group: not a member of a required organization.
	_, loc = post(ldapauthtest.Dave.Username, ldapauthtest.Dave.Password)
	assert.Contains(t, loc.Query().Get("error"), "not a member")

	rec = e.do(http.MethodPost, "/api/v2/admin/ldap/test", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, true, decodeBody[obj](t, rec)["ok"], rec.Body.String())
	assert.NotContains(t, e.logs.String(), ldapauthtest.SearchPassword, "the search password is never logged")
	assert.NotContains(t, e.logs.String(), ldapauthtest.Alice.Password)
}

// TestLDAPUserConnectsGitHub: after an LDAP sign-in, signing in with
// GitHub connects the GitHub account to the same user (the seed's flow).
func TestLDAPUserConnectsGitHub(t *testing.T) {
	set := ldapauthtest.Settings(t, ldapauth.Plain)
	l, err := ldapauth.New(set)
	require.NoError(t, err)
	fake := githubtest.New()
	t.Cleanup(fake.Close)
	fake.AddUser("gho_alice_gh", githubtest.User{ID: 99, Login: "alice-gh"})
	d, err := github.New(github.Config{BaseURL: fake.URL, ClientID: fake.ClientID, ClientSecret: fake.ClientSecret,
		RedirectURL: "http://orbit.test/auth/github/callback"})
	require.NoError(t, err)
	e := newEnv(t, func(c *api.Config) {
		c.SignIn.Password, c.SignIn.GitHub = l, d
		c.SignIn.SealToken = func(_ context.Context, _ string, tok []byte) ([]byte, error) {
			return append([]byte("sealed:"), tok...), nil
		}
	})
	b := newBrowser(t, e.h)
	form := url.Values{"username": {ldapauthtest.Alice.Username}, "password": {ldapauthtest.Alice.Password}}
	require.Equal(t, http.StatusSeeOther, b.do(http.MethodPost, "/login/password", form.Encode(), "Content-Type", "application/x-www-form-urlencoded").Code)
	require.Equal(t, http.StatusSeeOther, githubDance(t, b, fake, "/auth/github", "alice-gh").Code)

	alice, err := e.acc.ByLogin(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, accounts.ProviderLDAP, alice.Provider, "still the LDAP user")
	assert.Equal(t, "alice-gh", alice.GitHubLogin, "with GitHub connected")
	assert.Equal(t, "sealed:gho_alice_gh", string(alice.GitHubToken))
	_, err = e.acc.ByLogin(context.Background(), "alice-gh")
	assert.ErrorIs(t, err, accounts.ErrNotFound, "no second user")
}
