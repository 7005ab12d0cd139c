package ldapauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// Stage names a step of the seed's "test" action.
type Stage string

// The test action's stages, in order.
const (
	// StageConnect: reach host:port and set up the encryption.
	StageConnect Stage = "connect"
	// StageSearchBind: bind as the search user with the search password.
	StageSearchBind Stage = "bind as search user"
	// StageUserSearchDN: the user search DN exists and the search user
	// may read it.
	StageUserSearchDN Stage = "read user search DN"
	// StageTestUser: sign the test username in with the test password.
	StageTestUser Stage = "sign in test user"
)

// TestError is the failure of the test action: the stage that failed and
// why. Its message names the stage, e.g. "ldap test failed at bind as
// search user: …".
type TestError struct {
	Stage Stage
	Err   error
}

func (e *TestError) Error() string {
	return fmt.Sprintf("ldap test failed at %s: %v", e.Stage, e.Err)
}

func (e *TestError) Unwrap() error { return e.Err }

// Test is the seed's "test" action for the settings: it connects, binds as
// the search user, reads the user search DN and, when the test username and
// password are set, signs that user in as Authenticate does. It returns nil
// or a *TestError naming the first stage that failed (whose Err is one of
// Authenticate's errors, e.g. ErrInvalidCredentials for a wrong test
// password).
func (a *Authenticator) Test(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	sess, err := a.dial(ctx)
	if err != nil {
		return &TestError{Stage: StageConnect, Err: err}
	}
	defer sess.close()
	if err := a.bindSearchUser(ctx, sess); err != nil {
		return &TestError{Stage: StageSearchBind, Err: err}
	}
	req := ldap.NewSearchRequest(a.userBase, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{"1.1"}, nil)
	if _, err := sess.conn.Search(req); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			err = fmt.Errorf("%s does not exist on %s (or the search user may not read it): %w", a.userBase, a.addr(), err)
		} else {
			err = a.opError(ctx, "read "+a.userBase, err)
		}
		return &TestError{Stage: StageUserSearchDN, Err: err}
	}
	if a.s.TestUsername == "" {
		return nil
	}
	if _, err := a.signIn(ctx, sess, a.s.TestUsername, a.s.TestPassword); err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			err = fmt.Errorf("test username %q: %w", a.s.TestUsername, err)
		}
		return &TestError{Stage: StageTestUser, Err: err}
	}
	return nil
}
