package ldapauth_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/ldapauth"
	"github.com/orbit-ci/orbit/shared/ldapauth/ldapauthtest"
)

// directory returns the settings of make test's slapd (OpenLDAP defaults).
func directory(t *testing.T, enc ldapauth.Encryption) ldapauth.Settings {
	return ldapauthtest.Settings(t, enc)
}

const searchPassword = ldapauthtest.SearchPassword

func authenticator(t *testing.T, s ldapauth.Settings) *ldapauth.Authenticator {
	t.Helper()
	a, err := ldapauth.New(s)
	require.NoError(t, err)
	return a
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestAuthenticateEachEncryption(t *testing.T) {
	for _, enc := range []ldapauth.Encryption{ldapauth.Plain, ldapauth.StartTLS, ldapauth.LDAPS} {
		t.Run(string(enc), func(t *testing.T) {
			a := authenticator(t, directory(t, enc))
			id, err := a.Authenticate(ctxFor(t), "alice", "alice-pw")
			require.NoError(t, err)
			assert.Equal(t, accounts.ProviderLDAP, id.Provider)
			assert.Regexp(t, uuidRE, id.ProviderID, "entryUUID, not the DN")
			assert.Equal(t, "alice", id.Login)
			assert.Equal(t, "Alice L.", id.Name, "displayName before cn")
			assert.Equal(t, "alice@orbit.test", id.Email)
			assert.Equal(t, []string{"developers"}, id.Orgs)
		})
	}
}

func TestAuthenticateIdentities(t *testing.T) {
	a := authenticator(t, directory(t, ldapauth.StartTLS))
	alice, err := a.Authenticate(ctxFor(t), "alice", "alice-pw")
	require.NoError(t, err)
	tests := []struct {
		name     string
		user     ldapauthtest.User
		username string // as typed; "" means user.Username
	}{
		{"bob in ops", ldapauthtest.Bob, ""},
		{"carol in ops", ldapauthtest.Carol, ""},
		{"dave in no group, no mail", ldapauthtest.Dave, ""},
		{"alice typed in capitals: the directory's spelling", ldapauthtest.Alice, "ALICE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typed := tt.username
			if typed == "" {
				typed = tt.user.Username
			}
			id, err := a.Authenticate(ctxFor(t), typed, tt.user.Password)
			require.NoError(t, err)
			assert.Equal(t, tt.user.Username, id.Login)
			assert.Equal(t, tt.user.Name, id.Name)
			assert.Equal(t, tt.user.Email, id.Email)
			assert.Equal(t, tt.user.Groups, id.Orgs)
			assert.Regexp(t, uuidRE, id.ProviderID)
			if tt.user.Username == "alice" {
				assert.Equal(t, alice.ProviderID, id.ProviderID, "the same entry, the same id")
			} else {
				assert.NotEqual(t, alice.ProviderID, id.ProviderID)
			}
		})
	}
}

func TestGroupSettingsChooseTheGroups(t *testing.T) {
	s := directory(t, ldapauth.Plain)
	s.GroupObjectClass, s.GroupMembership = "groupOfNames", "member"
	id, err := authenticator(t, s).Authenticate(ctxFor(t), "alice", "alice-pw")
	require.NoError(t, err)
	assert.Equal(t, []string{"staff"}, id.Orgs, "only groupOfNames groups listing alice in member")
}

func TestUserSearchDNInTheSeedsShortForm(t *testing.T) {
	s := directory(t, ldapauth.Plain)
	s.UserSearchDN = "ou=people" // the seed's ou=<users>: under the search user's dc= components
	id, err := authenticator(t, s).Authenticate(ctxFor(t), "bob", "bob-pw")
	require.NoError(t, err)
	assert.Equal(t, []string{"ops"}, id.Orgs)
}

func TestUsernameAttributeMail(t *testing.T) {
	s := directory(t, ldapauth.Plain)
	s.UsernameAttribute = "mail" // the seed's example
	id, err := authenticator(t, s).Authenticate(ctxFor(t), "carol@orbit.test", "carol-pw")
	require.NoError(t, err)
	assert.Equal(t, "carol@orbit.test", id.Login)
	_, err = authenticator(t, s).Authenticate(ctxFor(t), "carol", "carol-pw")
	assert.ErrorIs(t, err, ldapauth.ErrInvalidCredentials, "uid is no longer the username")
}

func TestInvalidCredentialsAreOneError(t *testing.T) {
	a := authenticator(t, directory(t, ldapauth.StartTLS))
	tests := []struct{ name, username, password string }{
		{"wrong password", "alice", "bob-pw"},
		{"unknown user", "mallory", "alice-pw"},
		{"empty password (unauthenticated bind)", "alice", ""},
		{"empty username", "", "alice-pw"},
		{"another user's password", "bob", "alice-pw"},
		{"the search user is no user", "orbit-search", searchPassword},
	}
	var messages []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := a.Authenticate(ctxFor(t), tt.username, tt.password)
			require.ErrorIs(t, err, ldapauth.ErrInvalidCredentials)
			assert.Equal(t, accounts.Identity{}, id)
			messages = append(messages, err.Error())
		})
	}
	for _, m := range messages {
		assert.Equal(t, ldapauth.ErrInvalidCredentials.Error(), m, "no message tells unknown users from wrong passwords")
	}
}

func TestEmptyPasswordIsRefusedBeforeAnyBind(t *testing.T) {
	s := directory(t, ldapauth.Plain)
	s.Port = closedPort(t) // nothing listens: a bind attempt would be ErrUnreachable
	_, err := authenticator(t, s).Authenticate(ctxFor(t), "alice", "")
	assert.Equal(t, ldapauth.ErrInvalidCredentials, err)
}

func TestFilterInjectionMatchesNobody(t *testing.T) {
	a := authenticator(t, directory(t, ldapauth.Plain))
	// Unescaped, each would match alice (and so sign in with her password)
	// or several entries.
	for _, username := range []string{"*", "al*", "alice)(uid=*", "*)(|(uid=*", "alice)(|(objectClass=*)", `\2a`, "alice\x00"} {
		t.Run(username, func(t *testing.T) {
			_, err := a.Authenticate(ctxFor(t), username, "alice-pw")
			assert.ErrorIs(t, err, ldapauth.ErrInvalidCredentials)
		})
	}
}

func TestAmbiguousUsernameAttribute(t *testing.T) {
	s := directory(t, ldapauth.Plain)
	s.UsernameAttribute = "objectClass" // every person has objectClass=inetOrgPerson
	_, err := authenticator(t, s).Authenticate(ctxFor(t), "inetOrgPerson", "alice-pw")
	require.ErrorIs(t, err, ldapauth.ErrAmbiguousUser)
	assert.NotErrorIs(t, err, ldapauth.ErrInvalidCredentials)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestUnreachableServer(t *testing.T) {
	for _, enc := range []ldapauth.Encryption{ldapauth.Plain, ldapauth.StartTLS, ldapauth.LDAPS} {
		t.Run("refused/"+string(enc), func(t *testing.T) {
			s := directory(t, enc)
			s.Port = closedPort(t)
			_, err := authenticator(t, s).Authenticate(ctxFor(t), "alice", "alice-pw")
			require.ErrorIs(t, err, ldapauth.ErrUnreachable)
			assert.NotErrorIs(t, err, ldapauth.ErrInvalidCredentials)
			assert.Contains(t, err.Error(), "127.0.0.1:"+strconv.Itoa(s.Port))
		})
		t.Run("silent/"+string(enc), func(t *testing.T) {
			s := directory(t, enc)
			s.Port = silentServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := authenticator(t, s).Authenticate(ctx, "alice", "alice-pw")
			require.ErrorIs(t, err, ldapauth.ErrUnreachable, "%v", err)
			assert.Contains(t, err.Error(), "127.0.0.1:"+strconv.Itoa(s.Port))
			assert.Less(t, time.Since(start), 10*time.Second, "the context's deadline bounds the sign-in")
		})
	}
}

func TestUntrustedCertificate(t *testing.T) {
	for _, enc := range []ldapauth.Encryption{ldapauth.StartTLS, ldapauth.LDAPS} {
		t.Run(string(enc), func(t *testing.T) {
			s := directory(t, enc)
			s.CACertificate = ldapauth.OtherCA(t)
			_, err := authenticator(t, s).Authenticate(ctxFor(t), "alice", "alice-pw")
			require.ErrorIs(t, err, ldapauth.ErrTLS)
			assert.Contains(t, err.Error(), net.JoinHostPort(s.Hostname, strconv.Itoa(s.Port)))
		})
	}
}

func TestConcurrentSignIns(t *testing.T) {
	a := authenticator(t, directory(t, ldapauth.LDAPS))
	users := map[string]string{"alice": "developers", "bob": "ops", "carol": "ops"}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		for user, group := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := a.Authenticate(ctxFor(t), user, user+"-pw")
				if assert.NoError(t, err) {
					assert.Equal(t, user, id.Login)
					assert.Equal(t, []string{group}, id.Orgs)
				}
			}()
		}
	}
	wg.Wait()
}

func TestTestAction(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*ldapauth.Settings)
		stage ldapauth.Stage // "" means success
		is    error
	}{
		{"connection and search user only", func(*ldapauth.Settings) {}, "", nil},
		{"with the test user", func(s *ldapauth.Settings) { s.TestUsername, s.TestPassword = "bob", "bob-pw" }, "", nil},
		{"nothing listens", func(s *ldapauth.Settings) { s.Port = closedPort(t) }, ldapauth.StageConnect, ldapauth.ErrUnreachable},
		{"untrusted certificate", func(s *ldapauth.Settings) { s.CACertificate = ldapauth.OtherCA(t) }, ldapauth.StageConnect, ldapauth.ErrTLS},
		{"wrong search password", func(s *ldapauth.Settings) { s.SearchPassword = "not-the-search-secret" }, ldapauth.StageSearchBind, nil},
		{"unknown search user", func(s *ldapauth.Settings) { s.SearchUser = "cn=nobody,dc=orbit,dc=test" }, ldapauth.StageSearchBind, nil},
		{"missing user search DN", func(s *ldapauth.Settings) { s.UserSearchDN = "ou=staff,dc=orbit,dc=test" }, ldapauth.StageUserSearchDN, nil},
		{"wrong test password", func(s *ldapauth.Settings) { s.TestUsername, s.TestPassword = "bob", "alice-pw" }, ldapauth.StageTestUser, ldapauth.ErrInvalidCredentials},
		{"unknown test user", func(s *ldapauth.Settings) { s.TestUsername, s.TestPassword = "mallory", "x" }, ldapauth.StageTestUser, ldapauth.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := directory(t, ldapauth.StartTLS)
			tt.edit(&s)
			err := authenticator(t, s).Test(ctxFor(t))
			if tt.stage == "" {
				require.NoError(t, err)
				return
			}
			var te *ldapauth.TestError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.stage, te.Stage)
			assert.Contains(t, err.Error(), "ldap test failed at "+string(tt.stage))
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.NotContains(t, err.Error(), s.SearchPassword)
			if s.TestPassword != "" {
				assert.NotContains(t, err.Error(), s.TestPassword)
			}
		})
	}
}

// TestNoPasswordInAnyError drives every failure with distinctive passwords
// and searches each error for them.
func TestNoPasswordInAnyError(t *testing.T) {
	const wrongSearch, userPassword = "S3arch-Pw-Marker-91", "User-Pw-Marker-27"
	base := directory(t, ldapauth.Plain)
	var errs []error
	run := func(edit func(*ldapauth.Settings), username, password string) {
		s := base
		edit(&s)
		a := authenticator(t, s)
		_, err := a.Authenticate(ctxFor(t), username, password)
		require.Error(t, err)
		errs = append(errs, err, a.Test(ctxFor(t)))
	}
	keep := func(*ldapauth.Settings) {}
	run(keep, "alice", userPassword)
	run(keep, "mallory", userPassword)
	run(keep, "alice)(uid=*", userPassword)
	run(func(s *ldapauth.Settings) { s.SearchPassword = wrongSearch }, "alice", userPassword)
	run(func(s *ldapauth.Settings) { s.SearchPassword = wrongSearch; s.Port = closedPort(t) }, "alice", userPassword)
	run(func(s *ldapauth.Settings) {
		s.SearchPassword = wrongSearch
		s.UserSearchDN = "ou=none,dc=orbit,dc=test"
	}, "alice", userPassword)
	run(func(s *ldapauth.Settings) { s.TestUsername, s.TestPassword = "alice", userPassword }, "alice", userPassword)
	run(func(s *ldapauth.Settings) { s.UsernameAttribute = "objectClass" }, "inetOrgPerson", userPassword)
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, secret := range []string{searchPassword, wrongSearch, userPassword} {
			assert.NotContains(t, err.Error(), secret)
		}
	}
	assert.Greater(t, len(errs), 8, "the failures ran")
	_, err := ldapauth.New(ldapauth.Settings{SearchPassword: wrongSearch, TestPassword: userPassword})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), wrongSearch)
	assert.NotContains(t, err.Error(), userPassword)
	assert.False(t, strings.Contains(base.String(), searchPassword), "String redacts")
}
