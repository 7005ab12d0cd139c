package ldapauth

// OtherCA is otherCAPEM for the tests against slapd (package ldapauth_test).
var OtherCA = otherCAPEM
