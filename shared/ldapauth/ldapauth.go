// Package ldapauth signs users in against OpenLDAP or Active Directory with
// the seed's LDAP settings ("Enable LDAP-only Authentication"), by
// search-then-bind, and runs the settings' "test" action. It returns an
// accounts.Identity; shared/api turns it into a user and a session with
// accounts.Service.SignIn, which applies "Suspend New Users" and the
// Required Org Membership List to the user's LDAP groups.
//
// One sign-in, on one connection opened for it:
//
//	connect (plain | StartTLS | LDAPS, within ctx's deadline)
//	  ─▶ bind as the search user
//	  ─▶ search the user: (<username attr>=<escaped username>)
//	     under the user search DN, whole subtree; exactly one entry
//	  ─▶ bind as that entry's DN with the password       (proves the password)
//	  ─▶ bind as the search user again
//	  ─▶ search the groups: (&(objectClass=<group class>)(<membership attr>=<user DN>))
//	     under the directory's dc= suffix; their cn become Identity.Orgs
//
// A wrong password and an unknown user give the same error,
// ErrInvalidCredentials, so the sign-in form cannot tell which usernames
// exist. An empty password is refused before anything is sent: LDAP treats
// a bind with a DN and no password as an unauthenticated (anonymous) bind
// that many servers accept. Nothing here logs, and no error contains a
// password.
package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// Errors callers branch on (errors.Is).
var (
	// ErrInvalidCredentials: the username is unknown or the password is
	// wrong (or empty); deliberately one error with one message for all.
	ErrInvalidCredentials = errors.New("ldapauth: invalid username or password")
	// ErrUnreachable: the server could not be reached or stopped answering
	// (or the context ended first); the error names host:port.
	ErrUnreachable = errors.New("ldapauth: LDAP server unreachable")
	// ErrTLS: the TLS handshake failed (StartTLS refused, an untrusted or
	// mismatched certificate); the error names host:port.
	ErrTLS = errors.New("ldapauth: TLS with the LDAP server failed")
	// ErrAmbiguousUser: more than one entry has the username; the username
	// attribute setting must name an attribute that is unique per user.
	ErrAmbiguousUser = errors.New("ldapauth: username matches more than one entry")
)

// Limits on what a sign-in form may send, far above any real name.
const (
	maxUsername = 256
	maxPassword = 1024
)

// Authenticator signs users in against one LDAP server. Safe for
// concurrent use: each call opens its own connection.
type Authenticator struct {
	s        Settings
	tls      *tls.Config
	userBase string
	suffix   string
}

// New returns an Authenticator for s (its defaults applied), or the
// problems of s (see Settings.Validate). It does not connect.
func New(s Settings) (*Authenticator, error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	tc, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	userBase, suffix := bases(s)
	return &Authenticator{s: s, tls: tc, userBase: userBase, suffix: suffix}, nil
}

// bases returns the DN users are searched under and the one groups are
// searched under. The seed writes the user search DN as ou=<users>: without
// a dc= component it is taken under the search user's dc= components.
// Groups are searched under the dc= components of the user base (the
// directory's suffix), or under the user base if it has none.
func bases(s Settings) (userBase, groupBase string) {
	user, _ := ldap.ParseDN(s.UserSearchDN) // Validate parsed both
	search, _ := ldap.ParseDN(s.SearchUser)
	userBase = strings.TrimSpace(s.UserSearchDN)
	if len(dcSuffix(user)) == 0 {
		if dc := dcSuffix(search); len(dc) > 0 {
			userBase += "," + dnString(dc)
		}
	}
	full, _ := ldap.ParseDN(userBase)
	if dc := dcSuffix(full); len(dc) > 0 {
		return userBase, dnString(dc)
	}
	return userBase, userBase
}

// dcSuffix is the trailing run of dc= RDNs of dn.
func dcSuffix(dn *ldap.DN) []*ldap.RelativeDN {
	if dn == nil {
		return nil
	}
	i := len(dn.RDNs)
	for i > 0 {
		r := dn.RDNs[i-1]
		if len(r.Attributes) != 1 || !strings.EqualFold(r.Attributes[0].Type, "dc") {
			break
		}
		i--
	}
	return dn.RDNs[i:]
}

func dnString(rdns []*ldap.RelativeDN) string {
	return (&ldap.DN{RDNs: rdns}).String()
}

// Authenticate signs username in with password (see the package comment
// for the steps) and returns who they are: Provider "ldap", ProviderID the
// entry's entryUUID (objectGUID on Active Directory; its DN if it has
// neither), Login the value of the username attribute as the directory
// spells it, Name its displayName (else cn), Email its mail, Orgs the cn of
// each group it is a member of. Errors: ErrInvalidCredentials (unknown
// user, wrong or empty password), ErrUnreachable, ErrTLS, ErrAmbiguousUser,
// or a wrapped LDAP error (e.g. the search user's bind refused).
func (a *Authenticator) Authenticate(ctx context.Context, username, password string) (accounts.Identity, error) {
	if username == "" || password == "" || len(username) > maxUsername || len(password) > maxPassword {
		return accounts.Identity{}, ErrInvalidCredentials
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	sess, err := a.dial(ctx)
	if err != nil {
		return accounts.Identity{}, err
	}
	defer sess.close()
	if err := a.bindSearchUser(ctx, sess); err != nil {
		return accounts.Identity{}, err
	}
	return a.signIn(ctx, sess, username, password)
}

// signIn runs the steps after the search user's bind.
func (a *Authenticator) signIn(ctx context.Context, sess *session, username, password string) (accounts.Identity, error) {
	entry, err := a.findUser(ctx, sess, username)
	if err != nil {
		return accounts.Identity{}, err
	}
	if err := sess.conn.Bind(entry.DN, password); err != nil {
		if refusedCredentials(err) {
			return accounts.Identity{}, ErrInvalidCredentials
		}
		return accounts.Identity{}, a.bindError(ctx, "the user", err)
	}
	if err := a.bindSearchUser(ctx, sess); err != nil {
		return accounts.Identity{}, err
	}
	orgs, err := a.groups(ctx, sess, entry.DN)
	if err != nil {
		return accounts.Identity{}, err
	}
	return accounts.Identity{
		Provider:   accounts.ProviderLDAP,
		ProviderID: providerID(entry),
		Login:      firstNonEmpty(entry.GetEqualFoldAttributeValue(a.s.UsernameAttribute), username),
		Name:       firstNonEmpty(entry.GetEqualFoldAttributeValue("displayName"), entry.GetEqualFoldAttributeValue("cn")),
		Email:      entry.GetEqualFoldAttributeValue("mail"),
		Orgs:       orgs,
	}, nil
}

func (a *Authenticator) bindSearchUser(ctx context.Context, sess *session) error {
	if err := sess.conn.Bind(a.s.SearchUser, a.s.SearchPassword); err != nil {
		return a.bindError(ctx, "the search user "+a.s.SearchUser, err)
	}
	return nil
}

// findUser returns the one entry under the user base whose username
// attribute equals username (the directory's matching rule decides case).
func (a *Authenticator) findUser(ctx context.Context, sess *session, username string) (*ldap.Entry, error) {
	filter := fmt.Sprintf("(%s=%s)", a.s.UsernameAttribute, ldap.EscapeFilter(username))
	req := ldap.NewSearchRequest(a.userBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, 0, false, filter,
		[]string{a.s.UsernameAttribute, "cn", "displayName", "mail", "entryUUID", "objectGUID"}, nil)
	res, err := sess.conn.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1):
		return nil, fmt.Errorf("%w: %s=%q under %s", ErrAmbiguousUser, a.s.UsernameAttribute, username, a.userBase)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("ldapauth: user search DN %s does not exist on %s", a.userBase, a.addr())
	case err != nil:
		return nil, a.opError(ctx, "search the user under "+a.userBase, err)
	case len(res.Entries) == 0:
		return nil, ErrInvalidCredentials
	}
	return res.Entries[0], nil
}

// groups returns the sorted cn of the groups whose membership attribute
// lists dn.
func (a *Authenticator) groups(ctx context.Context, sess *session, dn string) ([]string, error) {
	filter := fmt.Sprintf("(&(objectClass=%s)(%s=%s))", a.s.GroupObjectClass, a.s.GroupMembership, ldap.EscapeFilter(dn))
	req := ldap.NewSearchRequest(a.suffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, filter, []string{"cn"}, nil)
	res, err := sess.conn.SearchWithPaging(req, 500)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, a.opError(ctx, "search the groups under "+a.suffix, err)
	}
	var orgs []string
	if res != nil {
		for _, e := range res.Entries {
			if cn := e.GetEqualFoldAttributeValue("cn"); cn != "" {
				orgs = append(orgs, cn)
			}
		}
	}
	slices.Sort(orgs)
	return slices.Compact(orgs), nil
}

// refusedCredentials says whether a user's bind failed because of the
// credentials (wrong password; Active Directory also answers 49 for a
// locked or expired account) rather than the server or the network.
func refusedCredentials(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials,
		ldap.LDAPResultInappropriateAuthentication, ldap.LDAPResultUnwillingToPerform)
}

// providerID is the entry's stable id: entryUUID (RFC 4530), objectGUID
// (Active Directory) or, failing both, its DN.
func providerID(e *ldap.Entry) string {
	if id := e.GetEqualFoldAttributeValue("entryUUID"); id != "" {
		return id
	}
	if g := e.GetEqualFoldRawAttributeValue("objectGUID"); len(g) == 16 {
		return formatGUID(g)
	}
	return e.DN
}

// formatGUID writes an Active Directory objectGUID as its canonical string:
// the first three fields are stored little-endian.
func formatGUID(g []byte) string {
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8:10], g[10:16])
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}
