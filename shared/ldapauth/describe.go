package ldapauth

import "strconv"

// Describe lists the settings in use (defaults applied) by the seed's
// field names, for the admin's System Settings page. The passwords are
// never listed: only whether they are set.
func (a *Authenticator) Describe() [][2]string {
	s := a.s
	set := func(v string) string {
		if v == "" {
			return "not set"
		}
		return "set"
	}
	test := s.TestUsername
	if test == "" {
		test = "not set"
	}
	ca := "the system's roots"
	if s.CACertificate != "" {
		ca = "a CA certificate besides the system's roots"
	}
	return [][2]string{
		{"Server type", string(s.ServerType)},
		{"Hostname", s.Hostname},
		{"Port", strconv.Itoa(s.Port)},
		{"Encryption", string(s.Encryption)},
		{"Trusts", ca},
		{"Search user", s.SearchUser},
		{"Search password", set(s.SearchPassword)},
		{"User search DN", a.userBase},
		{"Username attribute", s.UsernameAttribute},
		{"Group membership", s.GroupMembership},
		{"Group object class", s.GroupObjectClass},
		{"Test username", test},
		{"Test password", set(s.TestPassword)},
	}
}
