package ldapauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func valid() Settings {
	return Settings{
		ServerType: OpenLDAP, Hostname: "ldap.example.org", Encryption: StartTLS,
		SearchUser: "cn=admin,dc=example,dc=org", SearchPassword: "pw-Secret-42",
		UserSearchDN: "ou=users,dc=example,dc=org",
	}
}

func TestDefaultsByServerType(t *testing.T) {
	tests := []struct {
		name                           string
		server                         ServerType
		enc                            Encryption
		port                           int
		username, membership, objClass string
	}{
		{"openldap starttls", OpenLDAP, StartTLS, 389, "uid", "uniqueMember", "groupOfUniqueNames"},
		{"openldap ldaps", OpenLDAP, LDAPS, 636, "uid", "uniqueMember", "groupOfUniqueNames"},
		{"active directory plain", ActiveDirectory, Plain, 389, "sAMAccountName", "member", "group"},
		{"active directory ldaps", ActiveDirectory, LDAPS, 636, "sAMAccountName", "member", "group"},
		{"unknown server type: no attribute defaults", "novell", Plain, 389, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Settings{ServerType: tt.server, Encryption: tt.enc}.WithDefaults()
			assert.Equal(t, tt.port, s.Port)
			assert.Equal(t, tt.username, s.UsernameAttribute)
			assert.Equal(t, tt.membership, s.GroupMembership)
			assert.Equal(t, tt.objClass, s.GroupObjectClass)
		})
	}
	set := Settings{ServerType: ActiveDirectory, Port: 3269, UsernameAttribute: "userPrincipalName",
		GroupMembership: "memberOf", GroupObjectClass: "posixGroup"}
	assert.Equal(t, set, set.WithDefaults(), "settings given are kept")
}

func TestValidate(t *testing.T) {
	ca := otherCAPEM(t)
	tests := []struct {
		name  string
		edit  func(*Settings)
		field string // "" means valid
		says  string
	}{
		{"valid", func(*Settings) {}, "", ""},
		{"valid active directory", func(s *Settings) { s.ServerType = ActiveDirectory }, "", ""},
		{"valid IPv6 host", func(s *Settings) { s.Hostname = "::1" }, "", ""},
		{"valid with CA and test user", func(s *Settings) { s.CACertificate = ca; s.TestUsername, s.TestPassword = "u", "p" }, "", ""},
		{"valid short user search DN", func(s *Settings) { s.UserSearchDN = "ou=users" }, "", ""},
		{"valid OID attribute", func(s *Settings) { s.UsernameAttribute = "0.9.2342.19200300.100.1.1" }, "", ""},
		{"no server type", func(s *Settings) { s.ServerType = "" }, "server_type", `want "openldap" or "ad"`},
		{"no hostname", func(s *Settings) { s.Hostname = "" }, "hostname", "is required"},
		{"hostname is a URL", func(s *Settings) { s.Hostname = "ldaps://ldap.example.org" }, "hostname", "give the host name only"},
		{"hostname with port", func(s *Settings) { s.Hostname = "ldap.example.org:389" }, "hostname", "not a host name"},
		{"port too large", func(s *Settings) { s.Port = 70000 }, "port", "70000 is not a TCP port"},
		{"negative port", func(s *Settings) { s.Port = -1 }, "port", "not a TCP port"},
		{"no encryption", func(s *Settings) { s.Encryption = "" }, "encryption", `want "plain", "starttls" or "ldaps"`},
		{"tls is not a choice", func(s *Settings) { s.Encryption = "tls" }, "encryption", `is "tls"`},
		{"no search user", func(s *Settings) { s.SearchUser = "" }, "search_user", "is required, e.g. cn=admin"},
		{"search user not a DN", func(s *Settings) { s.SearchUser = "admin" }, "search_user", `"admin" is not a DN`},
		{"no search password", func(s *Settings) { s.SearchPassword = "" }, "search_password", "unauthenticated bind"},
		{"no user search DN", func(s *Settings) { s.UserSearchDN = " " }, "user_search_dn", "is required"},
		{"user search DN not a DN", func(s *Settings) { s.UserSearchDN = "people" }, "user_search_dn", "is not a DN"},
		{"attribute with a filter in it", func(s *Settings) { s.UsernameAttribute = "uid)(objectClass=*" }, "username_attribute", "is not an attribute name"},
		{"membership with a space", func(s *Settings) { s.GroupMembership = "unique Member" }, "group_membership", "is not an attribute name"},
		{"object class with a star", func(s *Settings) { s.GroupObjectClass = "*" }, "group_object_class", "is not an attribute name"},
		{"no attribute without a server type default", func(s *Settings) { s.ServerType = "x" }, "username_attribute", "no default"},
		{"CA not PEM", func(s *Settings) { s.CACertificate = "hello" }, "ca_certificate", "no PEM certificate"},
		{"CA is a key", func(s *Settings) {
			s.CACertificate = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, "ca_certificate", `is "PRIVATE KEY"`},
		{"CA with trailing junk", func(s *Settings) { s.CACertificate = ca + "junk" }, "ca_certificate", "not PEM"},
		{"CA with plain", func(s *Settings) { s.CACertificate = ca; s.Encryption = Plain }, "ca_certificate", "encryption type is plain"},
		{"test password alone", func(s *Settings) { s.TestPassword = "p" }, "test_username", "required when a test password"},
		{"test username alone", func(s *Settings) { s.TestUsername = "u" }, "test_password", "required when a test username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.edit(&s)
			err := s.Validate()
			_, newErr := New(s)
			if tt.field == "" {
				assert.NoError(t, err)
				assert.NoError(t, newErr)
				return
			}
			require.Error(t, err)
			assert.Equal(t, err, newErr, "New refuses what Validate refuses")
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			var fields []string
			for _, e := range unjoin(err) {
				require.ErrorAs(t, e, &fe)
				fields = append(fields, fe.Field)
				if fe.Field == tt.field {
					assert.Contains(t, fe.Problem, tt.says)
					assert.Contains(t, e.Error(), "ldap settings: "+tt.field+" (")
				}
			}
			assert.Contains(t, fields, tt.field)
			if s.SearchPassword != "" {
				assert.NotContains(t, err.Error(), s.SearchPassword)
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Settings{}.Validate()
	var fields []string
	for _, e := range unjoin(err) {
		var fe *FieldError
		require.True(t, errors.As(e, &fe))
		fields = append(fields, fe.Field)
	}
	assert.Equal(t, []string{"server_type", "hostname", "encryption", "search_user", "search_password",
		"user_search_dn", "username_attribute", "group_membership", "group_object_class"}, fields)
}

func TestSettingsNeverShowPasswords(t *testing.T) {
	s := valid()
	s.TestUsername, s.TestPassword = "tester", "test-Secret-77"
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("ldap", "settings", s)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), fmt.Sprint(&s), s.String(), logged.String(),
	} {
		assert.NotContains(t, out, s.SearchPassword)
		assert.NotContains(t, out, s.TestPassword)
		assert.Contains(t, out, "ldap.example.org", "the rest is shown")
	}
	assert.Contains(t, logged.String(), `"search_password":"[redacted]"`)
	r := s.Redacted()
	assert.Equal(t, redacted, r.SearchPassword)
	assert.Equal(t, redacted, r.TestPassword)
	assert.Empty(t, Settings{}.Redacted().SearchPassword, "an unset password stays unset")
	assert.Equal(t, "pw-Secret-42", s.SearchPassword, "Redacted copies")
}

func TestWithURL(t *testing.T) {
	tests := []struct {
		raw      string
		startTLS bool
		host     string
		port     int
		enc      Encryption
		url      string
		err      string
	}{
		{"ldaps://ldap.example.com:636", false, "ldap.example.com", 636, LDAPS, "ldaps://ldap.example.com:636", ""},
		{"ldaps://ldap.example.com", false, "ldap.example.com", 0, LDAPS, "ldaps://ldap.example.com:636", ""},
		{"ldap://10.0.0.5:3389/", true, "10.0.0.5", 3389, StartTLS, "ldap://10.0.0.5:3389", ""},
		{"ldap://ldap.example.com", false, "ldap.example.com", 0, Plain, "ldap://ldap.example.com:389", ""},
		{"ldap://[::1]:389", false, "::1", 389, Plain, "ldap://[::1]:389", ""},
		{"ldaps://ldap.example.com", true, "", 0, "", "", "StartTLS applies to ldap:// only"},
		{"https://ldap.example.com", false, "", 0, "", "", `scheme "https"`},
		{"ldap.example.com:389", false, "", 0, "", "", "is not an ldap://host:port"},
		{"ldap://ldap.example.com/dc=x", false, "", 0, "", "", "is not an ldap://host:port"},
		{"ldap://ldap.example.com:99999", false, "", 0, "", "", "is not a TCP port"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			s, err := Settings{Port: 1}.WithURL(tt.raw, tt.startTLS)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.host, s.Hostname)
			assert.Equal(t, tt.port, s.Port)
			assert.Equal(t, tt.enc, s.Encryption)
			assert.Equal(t, tt.url, s.URL())
		})
	}
}

func TestSettingsJSON(t *testing.T) {
	s := valid()
	s.Enabled, s.TestUsername, s.TestPassword = true, "u", "p"
	b, err := json.Marshal(s)
	require.NoError(t, err)
	for _, key := range []string{`"enabled":true`, `"server_type":"openldap"`, `"hostname":`, `"encryption":"starttls"`,
		`"search_user":`, `"search_password":"pw-Secret-42"`, `"user_search_dn":`, `"test_username":"u"`, `"test_password":"p"`} {
		assert.Contains(t, string(b), key, "the kv record carries it (the caller seals the passwords)")
	}
	var back Settings
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back)
}

func TestBases(t *testing.T) {
	tests := []struct {
		name, searchUser, userDN string
		wantUser, wantGroups     string
	}{
		{"full DN", "cn=admin,dc=example,dc=org", "ou=users,dc=example,dc=org", "ou=users,dc=example,dc=org", "dc=example,dc=org"},
		{"seed's short form", "cn=admin, dc=example, dc=org", "ou=users", "ou=users,dc=example,dc=org", "dc=example,dc=org"},
		{"nested", "cn=s,ou=svc,dc=corp,dc=example,dc=com", "ou=eng,ou=people,dc=corp,dc=example,dc=com",
			"ou=eng,ou=people,dc=corp,dc=example,dc=com", "dc=corp,dc=example,dc=com"},
		{"no dc anywhere", "cn=admin,o=acme", "ou=users,o=acme", "ou=users,o=acme", "ou=users,o=acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, g := bases(Settings{SearchUser: tt.searchUser, UserSearchDN: tt.userDN})
			assert.Equal(t, tt.wantUser, u)
			assert.Equal(t, tt.wantGroups, g)
		})
	}
}

func TestFormatGUID(t *testing.T) {
	// objectGUID as stored: the first three fields little-endian.
	raw := []byte{0x35, 0x91, 0x8b, 0xf8, 0xd0, 0x7d, 0x4e, 0x4b, 0x8f, 0x84, 0x01, 0x33, 0x12, 0x7a, 0x16, 0x82}
	assert.Equal(t, "f88b9135-7dd0-4b4e-8f84-0133127a1682", formatGUID(raw))
}

func TestEmptyCredentialsNeverReachTheServer(t *testing.T) {
	s := valid()
	s.Hostname, s.Port = "127.0.0.1", 1 // nothing listens: a dial would say ErrUnreachable
	a, err := New(s)
	require.NoError(t, err)
	for _, c := range []struct{ user, pw string }{{"alice", ""}, {"", "pw"}, {strings.Repeat("a", maxUsername+1), "pw"}, {"a", strings.Repeat("p", maxPassword+1)}} {
		_, err := a.Authenticate(t.Context(), c.user, c.pw)
		assert.Equal(t, ErrInvalidCredentials, err)
	}
}

// otherCAPEM returns the PEM of a CA that signed nothing slapd serves.
func otherCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the test LDAP CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
