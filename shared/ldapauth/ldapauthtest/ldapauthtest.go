// Package ldapauthtest gives tests the settings of the throwaway slapd that
// scripts/test.sh starts (scripts/ldap/slapd.sh) and the entries of its
// directory (scripts/ldap/directory.ldif), so any package's tests can sign
// users in through a real LDAP server.
package ldapauthtest

import (
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/orbit-ci/orbit/shared/ldapauth"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// The search user of the test directory (the seed's "Search user" and
// "Search password"), as make test exports them in ORBIT_LDAP_BIND_DN and
// ORBIT_LDAP_BIND_PASSWORD.
const (
	SearchUser     = "cn=orbit-search,ou=system,dc=orbit,dc=test"
	SearchPassword = "search-secret-7Qx"
	// UserSearchDN holds the people.
	UserSearchDN = "ou=people,dc=orbit,dc=test"
)

// User is a person of the test directory.
type User struct {
	Username, Password string
	// Name is what Identity.Name is (displayName, else cn).
	Name string
	// Email is their mail ("" for dave).
	Email string
	// Groups are their groupOfUniqueNames groups (Identity.Orgs with the
	// OpenLDAP defaults).
	Groups []string
}

// Users of the test directory. Each password is "<username>-pw".
var (
	Alice = User{"alice", "alice-pw", "Alice L.", "alice@orbit.test", []string{"developers"}}
	Bob   = User{"bob", "bob-pw", "Bob Builder", "bob@orbit.test", []string{"ops"}}
	Carol = User{"carol", "carol-pw", "Carol Danvers", "carol@orbit.test", []string{"ops"}}
	Dave  = User{"dave", "dave-pw", "Dave Null", "", nil}
)

const why = "start slapd with its test directory (make test does: scripts/ldap/slapd.sh)"

// Settings returns the OpenLDAP settings of the test slapd with encryption
// enc (the ldaps:// port for LDAPS, the ldap:// one otherwise, the run's CA
// for StartTLS and LDAPS), Enabled, and no test user. Without make test's
// ORBIT_LDAP_* variables it skips the test, or fails it in CI
// (testenv.Need).
func Settings(tb testing.TB, enc ldapauth.Encryption) ldapauth.Settings {
	tb.Helper()
	name := "ORBIT_LDAP_URL"
	if enc == ldapauth.LDAPS {
		name = "ORBIT_LDAP_LDAPS_URL"
	}
	u, err := url.Parse(testenv.Need(tb, name, why))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		tb.Fatalf("%s has no port: %v", name, err)
	}
	if dn, pw := testenv.Need(tb, "ORBIT_LDAP_BIND_DN", why), testenv.Need(tb, "ORBIT_LDAP_BIND_PASSWORD", why); dn != SearchUser || pw != SearchPassword {
		tb.Fatalf("ORBIT_LDAP_BIND_DN is %q, want the fixture's %q (and its password): scripts/ldap and ldapauthtest disagree", dn, SearchUser)
	}
	s := ldapauth.Settings{
		Enabled: true, ServerType: ldapauth.OpenLDAP, Hostname: u.Hostname(), Port: port,
		Encryption: enc, SearchUser: SearchUser, SearchPassword: SearchPassword, UserSearchDN: UserSearchDN,
	}
	if enc != ldapauth.Plain {
		ca, err := os.ReadFile(testenv.Need(tb, "ORBIT_LDAP_CA", why))
		if err != nil {
			tb.Fatalf("ORBIT_LDAP_CA: %v", err)
		}
		s.CACertificate = string(ca)
	}
	return s
}
