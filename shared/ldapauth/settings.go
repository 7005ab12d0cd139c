package ldapauth

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// ServerType is the seed's "Select either OpenLDAP or Active Directory".
type ServerType string

// Server types, spelt as the CDK app's ldapFlavor context key spells them.
const (
	OpenLDAP        ServerType = "openldap"
	ActiveDirectory ServerType = "ad"
)

// Encryption is the seed's "encryption type" of the connection.
type Encryption string

// Encryptions. The seed: plain text is not recommended.
const (
	// Plain sends everything, passwords included, in clear.
	Plain Encryption = "plain"
	// StartTLS connects in clear to the LDAP port and upgrades to TLS
	// before anything else is sent.
	StartTLS Encryption = "starttls"
	// LDAPS speaks TLS from the first byte (usually port 636).
	LDAPS Encryption = "ldaps"
)

// Settings are the seed's LDAP settings ("Configure LDAP Authentication" in
// the Management Console), JSON-tagged so they can be kept in the kv as one
// record. SearchPassword and TestPassword are carried in clear only in
// memory: the caller seals them (the secrets port) before storing the
// record and unseals them after reading it; String and LogValue redact them
// and no error of this package contains them.
type Settings struct {
	// Enabled is the seed's "Enable LDAP-only Authentication": when true,
	// users sign in with their LDAP credentials only (and then connect
	// their GitHub account). This package does not read it; the sign-in
	// routes do.
	Enabled bool `json:"enabled"`
	// ServerType is the seed's "OpenLDAP or Active Directory"; it chooses
	// the defaults of the attribute settings below. Required.
	ServerType ServerType `json:"server_type"`
	// Hostname is the seed's "Hostname" of the LDAP instance: a host name
	// or IP address, not a URL. Required. TLS checks the server's
	// certificate against it.
	Hostname string `json:"hostname"`
	// Port is the seed's "port number"; 0 means 389, or 636 with LDAPS.
	Port int `json:"port,omitempty"`
	// Encryption is the seed's "encryption type": plain, starttls or
	// ldaps. Required.
	Encryption Encryption `json:"encryption"`
	// SearchUser is the seed's "Search user": the DN Orbit binds as to
	// find users and groups, e.g. cn=admin,dc=example,dc=org. Required.
	SearchUser string `json:"search_user"`
	// SearchPassword is the seed's "Search password" of SearchUser. A
	// secret: sealed by the caller at rest, never logged. Required (an
	// empty password would be an unauthenticated bind).
	SearchPassword string `json:"search_password,omitempty"`
	// UserSearchDN is the seed's "User search DN": the base under which
	// users are searched (whole subtree), e.g. ou=users,dc=example,dc=org.
	// Written as the seed's short form (ou=users, with no dc= part), it is
	// taken under the dc= components of SearchUser. Groups are searched
	// under the dc= components of this base. Required.
	UserSearchDN string `json:"user_search_dn"`
	// UsernameAttribute is the seed's "Username": the attribute whose
	// value a user types to sign in, unique per user (uid, mail, …).
	// Empty means uid for OpenLDAP, sAMAccountName for Active Directory.
	UsernameAttribute string `json:"username_attribute,omitempty"`
	// GroupMembership is the seed's "Group Membership": the attribute of a
	// group that lists its members' DNs. Empty means uniqueMember for
	// OpenLDAP, member for Active Directory.
	GroupMembership string `json:"group_membership,omitempty"`
	// GroupObjectClass is the seed's "Group Object Class": the objectClass
	// that marks an entry as a group. Empty means groupOfUniqueNames for
	// OpenLDAP, group for Active Directory.
	GroupObjectClass string `json:"group_object_class,omitempty"`
	// CACertificate is PEM: the certificate(s) of the CA that signed the
	// server's certificate, trusted besides the system's roots for
	// StartTLS and LDAPS. Optional.
	CACertificate string `json:"ca_certificate,omitempty"`
	// TestUsername is the seed's optional "Test username": the test action
	// (Authenticator.Test) signs this user in when it is set.
	TestUsername string `json:"test_username,omitempty"`
	// TestPassword is the seed's "Test password" of TestUsername. A secret,
	// like SearchPassword.
	TestPassword string `json:"test_password,omitempty"`
}

// Defaults by server type.
var defaults = map[ServerType]struct{ username, membership, objectClass string }{
	OpenLDAP:        {"uid", "uniqueMember", "groupOfUniqueNames"},
	ActiveDirectory: {"sAMAccountName", "member", "group"},
}

// WithDefaults returns s with the empty settings that have a default filled
// in for its server type (the port, and for a known server type the three
// attribute settings); the forms show them.
func (s Settings) WithDefaults() Settings {
	if s.Port == 0 {
		s.Port = 389
		if s.Encryption == LDAPS {
			s.Port = 636
		}
	}
	d, ok := defaults[s.ServerType]
	if !ok {
		return s
	}
	if s.UsernameAttribute == "" {
		s.UsernameAttribute = d.username
	}
	if s.GroupMembership == "" {
		s.GroupMembership = d.membership
	}
	if s.GroupObjectClass == "" {
		s.GroupObjectClass = d.objectClass
	}
	return s
}

// WithURL returns s with Hostname, Port and Encryption taken from an
// ldap://host[:port] or ldaps://host[:port] URL (the CDK app's ldapUrl and
// ldapStartTls keys): ldaps means LDAPS, ldap means StartTLS when startTLS
// is true and Plain otherwise. A missing port is left 0 (the default).
func (s Settings) WithURL(raw string, startTLS bool) (Settings, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
		return s, fmt.Errorf("ldap settings: %q is not an ldap://host:port or ldaps://host:port URL", raw)
	}
	switch {
	case u.Scheme == "ldaps" && !startTLS:
		s.Encryption = LDAPS
	case u.Scheme == "ldap" && startTLS:
		s.Encryption = StartTLS
	case u.Scheme == "ldap":
		s.Encryption = Plain
	case u.Scheme == "ldaps":
		return s, fmt.Errorf("ldap settings: %q is ldaps: StartTLS applies to ldap:// only", raw)
	default:
		return s, fmt.Errorf("ldap settings: %q has scheme %q, want ldap or ldaps", raw, u.Scheme)
	}
	s.Hostname, s.Port = u.Hostname(), 0
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil || s.Port < 1 || s.Port > 65535 {
			return s, fmt.Errorf("ldap settings: %q: port %q is not a TCP port", raw, p)
		}
	}
	return s, nil
}

// URL is the server's address as ldap://host:port or ldaps://host:port
// (with defaults applied), for display.
func (s Settings) URL() string {
	s = s.WithDefaults()
	scheme := "ldap"
	if s.Encryption == LDAPS {
		scheme = "ldaps"
	}
	return scheme + "://" + net.JoinHostPort(s.Hostname, strconv.Itoa(s.Port))
}

// FieldError is one problem with one setting. Field is the JSON name of the
// setting, Label the seed's name for it, so a form can show the problem
// beside the field.
type FieldError struct {
	Field   string
	Label   string
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("ldap settings: %s (%s): %s", e.Field, e.Label, e.Problem)
}

// attribute names an attribute type or object class: a descriptor or an OID.
// They go into search filters unescaped, so nothing else may pass.
var attribute = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)$`)

// Validate checks s with its defaults applied and returns every problem
// found, each a *FieldError (errors.Join), or nil. It checks the settings
// themselves; the test action (Authenticator.Test) checks them against the
// server.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	var errs []error
	bad := func(field, label, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Label: label, Problem: fmt.Sprintf(format, args...)})
	}
	if _, ok := defaults[s.ServerType]; !ok {
		bad("server_type", "OpenLDAP or Active Directory", "is %q, want %q or %q", s.ServerType, OpenLDAP, ActiveDirectory)
	}
	switch h := s.Hostname; {
	case h == "":
		bad("hostname", "Hostname", "is required")
	case strings.Contains(h, "://"):
		bad("hostname", "Hostname", "%q is a URL: give the host name only, and the port and encryption in their own fields", h)
	case net.ParseIP(h) == nil && strings.ContainsAny(h, " /:@?#[]\t\r\n"):
		bad("hostname", "Hostname", "%q is not a host name or IP address (give the port in its own field)", h)
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("port", "port number", "%d is not a TCP port (1-65535)", s.Port)
	}
	switch s.Encryption {
	case Plain, StartTLS, LDAPS:
	default:
		bad("encryption", "encryption type", "is %q, want %q, %q or %q", s.Encryption, Plain, StartTLS, LDAPS)
	}
	checkDN := func(field, label, dn, example string) {
		if strings.TrimSpace(dn) == "" {
			bad(field, label, "is required, e.g. %s", example)
		} else if _, err := ldap.ParseDN(dn); err != nil {
			bad(field, label, "%q is not a DN (%v), e.g. %s", dn, err, example)
		}
	}
	checkDN("search_user", "Search user", s.SearchUser, "cn=admin,dc=example,dc=org")
	if s.SearchPassword == "" {
		bad("search_password", "Search password", "is required: an empty password would be an unauthenticated bind")
	}
	checkDN("user_search_dn", "User search DN", s.UserSearchDN, "ou=users,dc=example,dc=org")
	for _, a := range []struct{ field, label, value string }{
		{"username_attribute", "Username", s.UsernameAttribute},
		{"group_membership", "Group Membership", s.GroupMembership},
		{"group_object_class", "Group Object Class", s.GroupObjectClass},
	} {
		if a.value == "" {
			bad(a.field, a.label, "is required (no default without a known server type)")
		} else if !attribute.MatchString(a.value) {
			bad(a.field, a.label, "%q is not an attribute name (letters, digits and '-', starting with a letter) or an OID", a.value)
		}
	}
	if s.CACertificate != "" {
		if s.Encryption == Plain {
			bad("ca_certificate", "CA certificate", "is set but the encryption type is plain: choose starttls or ldaps, or remove it")
		}
		if err := parseCA(s.CACertificate); err != nil {
			bad("ca_certificate", "CA certificate", "%v", err)
		}
	}
	if (s.TestUsername == "") != (s.TestPassword == "") {
		if s.TestUsername == "" {
			bad("test_username", "Test username", "is required when a test password is set")
		} else {
			bad("test_password", "Test password", "is required when a test username is set")
		}
	}
	return errors.Join(errs...)
}

// parseCA checks that pemText holds at least one certificate and nothing
// else.
func parseCA(pemText string) error {
	rest := []byte(pemText)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %d is %q, want CERTIFICATE", n+1, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate found (want -----BEGIN CERTIFICATE-----)")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("text after certificate %d is not PEM", n)
	}
	return nil
}

// redacted stands for a secret that is set.
const redacted = "[redacted]"

// Redacted returns a copy of s with the passwords that are set replaced by
// "[redacted]", for API responses and logs.
func (s Settings) Redacted() Settings {
	if s.SearchPassword != "" {
		s.SearchPassword = redacted
	}
	if s.TestPassword != "" {
		s.TestPassword = redacted
	}
	return s
}

// String describes s without its passwords, so %v and %+v cannot leak them.
func (s Settings) String() string {
	r := s.Redacted()
	type plain Settings // no String method: formats the fields
	return fmt.Sprintf("%+v", plain(r))
}

// LogValue makes slog log s without its passwords.
func (s Settings) LogValue() slog.Value {
	r := s.Redacted()
	return slog.GroupValue(
		slog.Bool("enabled", r.Enabled),
		slog.String("server_type", string(r.ServerType)),
		slog.String("hostname", r.Hostname),
		slog.Int("port", r.Port),
		slog.String("encryption", string(r.Encryption)),
		slog.String("search_user", r.SearchUser),
		slog.String("search_password", r.SearchPassword),
		slog.String("user_search_dn", r.UserSearchDN),
		slog.String("username_attribute", r.UsernameAttribute),
		slog.String("group_membership", r.GroupMembership),
		slog.String("group_object_class", r.GroupObjectClass),
		slog.Bool("ca_certificate", r.CACertificate != ""),
		slog.String("test_username", r.TestUsername),
		slog.String("test_password", r.TestPassword),
	)
}

// GoString is String, so %#v cannot leak the passwords either.
func (s Settings) GoString() string { return s.String() }
