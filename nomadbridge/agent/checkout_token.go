package agent

import (
	"encoding/base64"

	"github.com/orbit-ci/orbit/shared/runner"
)

// tokenEnv gives the checkout step (and it alone) an HTTPS token as an
// extra Authorization header for the repository's URL, through git's
// GIT_CONFIG_* environment: the token appears in no command line, remote
// URL or .git/config, so neither step output nor later steps see it.
func tokenEnv(co runner.Checkout) []runner.EnvVar {
	if co.Token == "" {
		return nil
	}
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + co.Token))
	return []runner.EnvVar{
		{Name: "GIT_CONFIG_COUNT", Value: "1"},
		{Name: "GIT_CONFIG_KEY_0", Value: "http." + co.RepoURL + ".extraheader"},
		{Name: "GIT_CONFIG_VALUE_0", Value: "Authorization: Basic " + basic},
	}
}
