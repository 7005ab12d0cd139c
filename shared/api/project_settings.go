package api

import (
	"net/http"
	"slices"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/store"
)

// Project settings, CircleCI's "advanced" settings:
//
//	GET   /api/v2/project/{provider}/{organization}/{project}/settings  {advanced: {...}}
//	PATCH /api/v2/project/{provider}/{organization}/{project}/settings  {advanced: {...}} → the settings
//
// Orbit's behaviour is fixed, not configurable per project: GET says what
// Orbit does for the project, and PATCH accepts a setting only at that
// value (a no-op) and refuses any other with a 400 that says why
// (docs/API.md), rather than store a setting nothing would honour.
func (s *server) routeProjectSettings(mux *http.ServeMux, project string) {
	s.route(mux, "GET "+project+"/settings", onProject(accounts.Read, BySlug), s.api(s.getProjectSettings))
	s.route(mux, "PATCH "+project+"/settings", onProject(accounts.Admin, BySlug),
		s.api(s.audited(projectSettingsUpdate, projectTarget, s.patchProjectSettings)))
}

// projectSettingsJSON is CircleCI's project_settings.
type projectSettingsJSON struct {
	Advanced advancedJSON `json:"advanced"`
}

type advancedJSON struct {
	AutocancelBuilds           bool     `json:"autocancel_builds"`
	BuildForkPRs               bool     `json:"build_fork_prs"`
	BuildPRsOnly               bool     `json:"build_prs_only"`
	DisableSSH                 bool     `json:"disable_ssh"`
	ForksReceiveSecretEnvVars  bool     `json:"forks_receive_secret_env_vars"`
	OSS                        bool     `json:"oss"`
	SetGitHubStatus            bool     `json:"set_github_status"`
	SetupWorkflows             bool     `json:"setup_workflows"`
	WriteSettingsRequiresAdmin bool     `json:"write_settings_requires_admin"`
	PROnlyBranchOverrides      []string `json:"pr_only_branch_overrides"`
}

// projectSettings is what Orbit does for p, with why each setting cannot
// change.
func projectSettings(p store.Project) (advancedJSON, map[string]string) {
	gh := p.VCS == "github" || p.VCS == "gh"
	return advancedJSON{
			BuildForkPRs:               gh,
			DisableSSH:                 false,
			ForksReceiveSecretEnvVars:  false,
			SetGitHubStatus:            gh,
			SetupWorkflows:             true,
			WriteSettingsRequiresAdmin: true,
			PROnlyBranchOverrides:      []string{p.DefaultBranch},
		}, map[string]string{
			"autocancel_builds":             "Orbit does not cancel redundant pipelines",
			"build_fork_prs":                "Orbit builds the pull requests its webhook receives, forks' included, on GitHub projects",
			"build_prs_only":                "Orbit builds every pushed branch",
			"disable_ssh":                   "rerun with SSH is served to users with write access and an SSH key in their account",
			"forks_receive_secret_env_vars": "fork pull requests never get the project's variables, contexts or OIDC tokens (CircleCI's default)",
			"oss":                           "Orbit has no open-source plan",
			"set_github_status":             "Orbit reports commit statuses on every GitHub project and on no other",
			"setup_workflows":               "Orbit always accepts setup workflows",
			"write_settings_requires_admin": "changing a project's settings always needs admin access on it",
			"pr_only_branch_overrides":      "build_prs_only is off, so every branch builds",
		}
}

func (s *server) getProjectSettings(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.GetProject(r.Context(), slugOf(r))
	if err != nil {
		return err
	}
	adv, _ := projectSettings(p)
	writeJSON(w, http.StatusOK, projectSettingsJSON{Advanced: adv})
	return nil
}

// settingsPatch is the body of a PATCH: every setting optional.
type settingsPatch struct {
	Advanced struct {
		AutocancelBuilds           *bool     `json:"autocancel_builds"`
		BuildForkPRs               *bool     `json:"build_fork_prs"`
		BuildPRsOnly               *bool     `json:"build_prs_only"`
		DisableSSH                 *bool     `json:"disable_ssh"`
		ForksReceiveSecretEnvVars  *bool     `json:"forks_receive_secret_env_vars"`
		OSS                        *bool     `json:"oss"`
		SetGitHubStatus            *bool     `json:"set_github_status"`
		SetupWorkflows             *bool     `json:"setup_workflows"`
		WriteSettingsRequiresAdmin *bool     `json:"write_settings_requires_admin"`
		PROnlyBranchOverrides      *[]string `json:"pr_only_branch_overrides"`
	} `json:"advanced"`
}

func (s *server) patchProjectSettings(w http.ResponseWriter, r *http.Request) error {
	var body settingsPatch
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	p, err := s.st.GetProject(r.Context(), slugOf(r))
	if err != nil {
		return err
	}
	cur, why := projectSettings(p)
	a := body.Advanced
	for _, c := range []struct {
		name string
		want *bool
		have bool
	}{
		{"autocancel_builds", a.AutocancelBuilds, cur.AutocancelBuilds},
		{"build_fork_prs", a.BuildForkPRs, cur.BuildForkPRs},
		{"build_prs_only", a.BuildPRsOnly, cur.BuildPRsOnly},
		{"disable_ssh", a.DisableSSH, cur.DisableSSH},
		{"forks_receive_secret_env_vars", a.ForksReceiveSecretEnvVars, cur.ForksReceiveSecretEnvVars},
		{"oss", a.OSS, cur.OSS},
		{"set_github_status", a.SetGitHubStatus, cur.SetGitHubStatus},
		{"setup_workflows", a.SetupWorkflows, cur.SetupWorkflows},
		{"write_settings_requires_admin", a.WriteSettingsRequiresAdmin, cur.WriteSettingsRequiresAdmin},
	} {
		if c.want != nil && *c.want != c.have {
			return badRequest("advanced.%s cannot be %t on Orbit: %s", c.name, *c.want, why[c.name])
		}
	}
	if a.PROnlyBranchOverrides != nil && !slices.Equal(*a.PROnlyBranchOverrides, cur.PROnlyBranchOverrides) {
		return badRequest("advanced.pr_only_branch_overrides cannot change on Orbit: %s", why["pr_only_branch_overrides"])
	}
	writeJSON(w, http.StatusOK, projectSettingsJSON{Advanced: cur})
	return nil
}
