package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/orbit-ci/orbit/shared/ldapauth"
)

// LDAPConfig is LDAP-only authentication, with the seed's settings (the
// CDK app sets the same variables from its ldap* context). With
// ORBIT_AUTH=ldap the sign-in page offers the LDAP form; a user connects
// GitHub afterwards.
type LDAPConfig struct {
	// Enabled: $ORBIT_AUTH is "ldap".
	Enabled bool
	// URL is ldap://host:port or ldaps://host:port ($ORBIT_LDAP_URL).
	URL string
	// StartTLS upgrades an ldap:// connection ($ORBIT_LDAP_STARTTLS).
	StartTLS bool
	// Flavor is openldap or ad ($ORBIT_LDAP_FLAVOR; default openldap).
	Flavor string
	// SearchUser is the search user's DN ($ORBIT_LDAP_SEARCH_USER).
	SearchUser string
	// SearchPassword is the search user's password
	// ($ORBIT_LDAP_SEARCH_PASSWORD, embedded shape), or read from the
	// Secrets Manager secret $ORBIT_LDAP_SECRET_ARN ({"password"}, AWS
	// shape). Never logged.
	SearchPassword string
	// SecretARN names that secret ($ORBIT_LDAP_SECRET_ARN).
	SecretARN string
	// UserSearchDN is where users are searched ($ORBIT_LDAP_USER_SEARCH_DN).
	UserSearchDN string
	// UsernameAttribute, GroupMembership and GroupObjectClass override
	// the flavor's defaults ($ORBIT_LDAP_USERNAME_ATTRIBUTE,
	// $ORBIT_LDAP_GROUP_MEMBERSHIP, $ORBIT_LDAP_GROUP_OBJECT_CLASS).
	UsernameAttribute, GroupMembership, GroupObjectClass string
	// CAFile is a PEM file of the CA that signed the server's certificate
	// ($ORBIT_LDAP_CA_FILE; default: the system's roots).
	CAFile string
	// TestUsername and TestPassword are the seed's test account, used by
	// `orbit admin ldap-test` ($ORBIT_LDAP_TEST_USERNAME,
	// $ORBIT_LDAP_TEST_PASSWORD; the password never logged).
	TestUsername, TestPassword string
}

func ldapFromEnv(getenv func(string) string, c *Config) error {
	l := LDAPConfig{Enabled: getenv("ORBIT_AUTH") == "ldap", URL: getenv("ORBIT_LDAP_URL"), Flavor: getenv("ORBIT_LDAP_FLAVOR"),
		SearchUser: getenv("ORBIT_LDAP_SEARCH_USER"), SearchPassword: getenv("ORBIT_LDAP_SEARCH_PASSWORD"),
		SecretARN: getenv("ORBIT_LDAP_SECRET_ARN"), UserSearchDN: getenv("ORBIT_LDAP_USER_SEARCH_DN"),
		UsernameAttribute: getenv("ORBIT_LDAP_USERNAME_ATTRIBUTE"), GroupMembership: getenv("ORBIT_LDAP_GROUP_MEMBERSHIP"),
		GroupObjectClass: getenv("ORBIT_LDAP_GROUP_OBJECT_CLASS"), CAFile: getenv("ORBIT_LDAP_CA_FILE"),
		TestUsername: getenv("ORBIT_LDAP_TEST_USERNAME"), TestPassword: getenv("ORBIT_LDAP_TEST_PASSWORD")}
	if v := getenv("ORBIT_LDAP_STARTTLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("ORBIT_LDAP_STARTTLS=%q: want true or false", v)
		}
		l.StartTLS = b
	}
	if a := getenv("ORBIT_AUTH"); a != "" && a != "ldap" && a != "github" {
		return fmt.Errorf("ORBIT_AUTH=%q: want github or ldap", a)
	}
	if l.Enabled && l.URL == "" {
		return fmt.Errorf("ORBIT_AUTH=ldap needs ORBIT_LDAP_URL (ldap://host:389 or ldaps://host:636)")
	}
	c.LDAP = l
	return nil
}

// LDAP is the LDAP authenticator, nil unless LDAP is enabled.
func (a *Assembly) LDAP(ctx context.Context) (*ldapauth.Authenticator, error) {
	l := a.cfg.LDAP
	if !l.Enabled {
		return nil, nil
	}
	if a.ldap != nil {
		return a.ldap, nil
	}
	flavor := ldapauth.OpenLDAP
	if l.Flavor == "ad" {
		flavor = ldapauth.ActiveDirectory
	}
	s, err := ldapauth.Settings{Enabled: true, ServerType: flavor, SearchUser: l.SearchUser, UserSearchDN: l.UserSearchDN,
		UsernameAttribute: l.UsernameAttribute, GroupMembership: l.GroupMembership, GroupObjectClass: l.GroupObjectClass,
		TestUsername: l.TestUsername, TestPassword: l.TestPassword}.WithURL(l.URL, l.StartTLS)
	if err != nil {
		return nil, fmt.Errorf("ORBIT_LDAP_URL: %w", err)
	}
	s.SearchPassword = l.SearchPassword
	if s.SearchPassword == "" && l.SecretARN != "" {
		if s.SearchPassword, err = a.ldapPassword(ctx, l.SecretARN); err != nil {
			return nil, err
		}
	}
	if l.CAFile != "" {
		pem, err := os.ReadFile(l.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ORBIT_LDAP_CA_FILE: %w", err)
		}
		s.CACertificate = string(pem)
	}
	auth, err := ldapauth.New(s.WithDefaults())
	if err != nil {
		return nil, fmt.Errorf("LDAP settings: %w", err)
	}
	a.ldap = auth
	return auth, nil
}

// ldapPassword reads the search user's password from its Secrets Manager
// secret ({"password": "..."}), as the CDK app stores it.
func (a *Assembly) ldapPassword(ctx context.Context, arn string) (string, error) {
	if a.awsCfg == nil {
		return "", fmt.Errorf("ORBIT_LDAP_SECRET_ARN is read in the aws shape only; set ORBIT_LDAP_SEARCH_PASSWORD")
	}
	out, err := secretsmanager.NewFromConfig(*a.awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("ORBIT_LDAP_SECRET_ARN=%s: read the LDAP password: %w", arn, err)
	}
	var v struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.Password == "" {
		return "", fmt.Errorf("ORBIT_LDAP_SECRET_ARN=%s: want {\"password\": \"...\"}", arn)
	}
	return v.Password, nil
}
