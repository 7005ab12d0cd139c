package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

const adminUsersUsage = `usage: orbit admin users [list]
       orbit admin users suspend|activate <login>
       orbit admin users admin <login> all|write-settings|none
       orbit admin users role <login> read|write|none
       orbit admin users delete-by-login <login>
       orbit admin token [--user LOGIN] [--label TEXT]
       orbit admin settings [--suspend-new-users true|false] [--required-orgs a,b] [--login-banner TEXT]
                            [--serve-unsafe-artifacts true|false]
       orbit admin ldap-test
       orbit admin bootstrap [--label TEXT]

  users     the seed's user lists and statistics (active, suspended, suspended new; sign-in counts
            and last sign-in), suspend / activate, make or remove an admin, the local organization's role
  token     print a new API token for a user (default: yourself), for scripts and CI
  settings  show or change the account settings: Suspend New Users, the Required Org Membership
            List, the login banner and Serve Artifacts with Unsafe Content-Types
  ldap-test the seed's LDAP "test" action (ORBIT_AUTH=ldap): says which stage fails
  bootstrap a token of the local admin straight from the store (no running Orbit needed; the
            first administrator of an installation without GitHub)

They call the running Orbit at $ORBIT_URL with $ORBIT_TOKEN (else the token orbit up wrote into
$ORBIT_DATA/token); each needs an Orbit administrator.
`

func init() {
	adminOps["users"] = adminUsers
	adminOps["token"] = adminToken
	adminOps["settings"] = adminSettings
	adminOps["ldap-test"] = adminLDAPTest
}

// adminLDAPTest is the seed's LDAP "test" action: connect, bind as the
// search user, search, and sign the test account in.
func adminLDAPTest(ctx context.Context, c *apiClient, _ []string) error {
	var out struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}
	if err := c.do(ctx, "POST", "/api/v2/admin/ldap/test", nil, &out); err != nil {
		return err
	}
	fmt.Println(out.Message)
	if !out.OK {
		return exitError{code: 1, msg: "LDAP test failed"}
	}
	return nil
}

type adminUser struct {
	Login       string    `json:"login"`
	Name        string    `json:"name"`
	Provider    string    `json:"provider"`
	Admin       string    `json:"admin"`
	Suspended   bool      `json:"suspended"`
	LocalRole   string    `json:"local_role"`
	SignInCount int       `json:"sign_in_count"`
	LastSignIn  time.Time `json:"current_sign_in_at"`
}

func adminUsers(ctx context.Context, c *apiClient, args []string) error {
	if len(args) == 0 || args[0] == "list" {
		var list struct {
			Items                                     []adminUser
			Active, Suspended, SuspendedNew, Licensed int
		}
		if err := c.do(ctx, "GET", "/api/v2/admin/users", nil, &list); err != nil {
			return err
		}
		fmt.Printf("active %d · suspended %d · suspended new %d · licensed %d\n\n", list.Active, list.Suspended, list.SuspendedNew, list.Licensed)
		tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LOGIN\tPROVIDER\tADMIN\tSUSPENDED\tLOCAL ROLE\tSIGN-INS\tLAST SIGN-IN")
		for _, u := range list.Items {
			last := "-"
			if !u.LastSignIn.IsZero() {
				last = u.LastSignIn.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%d\t%s\n", u.Login, u.Provider, dash(u.Admin), u.Suspended, dash(u.LocalRole), u.SignInCount, last)
		}
		return tw.Flush()
	}
	need := map[string]int{"suspend": 2, "activate": 2, "admin": 3, "role": 3, "delete-by-login": 2}
	if n, ok := need[args[0]]; !ok || len(args) != n {
		return exitError{code: 2, msg: adminUsersUsage}
	}
	path := "/api/v2/admin/users/" + url.PathEscape(args[1])
	var out adminUser
	var err error
	switch args[0] {
	case "delete-by-login":
		var m struct{ Message string }
		if err := c.do(ctx, "DELETE", path, nil, &m); err != nil {
			return err
		}
		fmt.Println(m.Message)
		return nil
	case "suspend", "activate":
		err = c.do(ctx, "POST", path+"/"+args[0], nil, &out)
	case "admin":
		err = c.do(ctx, "PUT", path+"/admin", map[string]string{"level": none(args[2])}, &out)
	case "role":
		err = c.do(ctx, "PUT", path+"/role", map[string]string{"role": none(args[2])}, &out)
	}
	if err != nil {
		return err
	}
	fmt.Printf("%s: admin %s, suspended %t, local role %s\n", out.Login, dash(out.Admin), out.Suspended, dash(out.LocalRole))
	return nil
}

func adminToken(ctx context.Context, c *apiClient, args []string) error {
	var user, label string
	if _, err := adminFlags("token", args, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "")
		fs.StringVar(&label, "label", "orbit admin token", "")
	}); err != nil {
		return err
	}
	path := "/api/v2/me/token"
	if user != "" {
		path = "/api/v2/admin/users/" + url.PathEscape(user) + "/token"
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, "POST", path, map[string]string{"label": label}, &tok); err != nil {
		return err
	}
	fmt.Println(tok.Token)
	return nil
}

func adminSettings(ctx context.Context, c *apiClient, args []string) error {
	var suspendNew, orgs, banner, unsafe string
	fs, err := adminFlags("settings", args, func(fs *flag.FlagSet) {
		fs.StringVar(&suspendNew, "suspend-new-users", "", "")
		fs.StringVar(&orgs, "required-orgs", "", "")
		fs.StringVar(&banner, "login-banner", "", "")
		fs.StringVar(&unsafe, "serve-unsafe-artifacts", "", "")
	})
	if err != nil {
		return err
	}
	set := map[string]any{}
	if err := c.do(ctx, "GET", "/api/v2/admin/settings", nil, &set); err != nil {
		return err
	}
	changed := false
	fs.Visit(func(f *flag.Flag) {
		changed = true
		switch f.Name {
		case "suspend-new-users":
			set["suspend_new_users"] = suspendNew == "true"
		case "required-orgs":
			list := []string{}
			for _, o := range strings.Split(orgs, ",") {
				if o = strings.TrimSpace(o); o != "" {
					list = append(list, o)
				}
			}
			set["required_orgs"] = list
		case "login-banner":
			set["login_banner"] = banner
		case "serve-unsafe-artifacts":
			set["serve_unsafe_artifacts"] = unsafe == "true"
		}
	})
	if changed {
		if err := c.do(ctx, "PUT", "/api/v2/admin/settings", set, &set); err != nil {
			return err
		}
	}
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func none(s string) string {
	if s == "none" {
		return ""
	}
	return s
}

// dataDirAbs is the data directory ($ORBIT_DATA, else .orbit) as an
// absolute path, for a git hook that runs elsewhere.
func dataDirAbs() string {
	d, err := filepath.Abs(envOr("ORBIT_DATA", ".orbit"))
	if err != nil {
		return envOr("ORBIT_DATA", ".orbit")
	}
	return d
}
