package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

// A project's settings page and its forms (served with Config.Vault):
//
//	GET  /ui/project/{vcs}/{org}/{repo}/settings                      variables (masked), keys (public halves),
//	                                                                  schedules, outbound webhooks, advanced settings,
//	                                                                  the organization's contexts
//	POST …/settings/envvar                  {name, value}           add or replace a variable
//	POST …/settings/envvar/{name}/delete
//	POST …/settings/checkout-key            {type}                  a new deploy key (Orbit makes the pair)
//	POST …/settings/checkout-key/{fp}/delete
//	POST …/settings/ssh-key                 {hostname, private_key} an additional SSH key
//	POST …/settings/ssh-key/{fp}/delete
//	POST …/settings/schedule                {name, description, branch, hours, per_hour, days}
//	POST …/settings/schedule/{id}/delete
//	POST …/settings/webhook                 {name, url, events, signing_secret, verify_tls}
//	POST …/settings/webhook/{webhook_id}/delete
//	POST …/settings/notifications           {enabled}: the project's workflow mails on or off
//
// Seeing the page needs read access; every form admin access (the route's
// rule), and each runs the API's handler (callAPI) with its audit.
func (s *server) routeUISettings(mux *http.ServeMux) {
	const base = "/ui/project/{vcs}/{org}/{repo}/settings"
	admin := onProject(accounts.Admin, BySlug)
	s.route(mux, "GET "+base, onProject(accounts.Read, BySlug), s.html(s.uiSettings))
	post := func(path string, fn actionFunc) {
		s.route(mux, "POST "+base+path, admin, s.formAction(settingsURL, fn))
	}
	post("/envvar", s.settingsAddVar)
	post("/envvar/{name}/delete", s.settingsDelete(s.audited(audit.ProjectEnvVarDelete, projectTarget, s.deleteEnvVar), "Variable %s deleted.", "name"))
	post("/checkout-key", s.settingsAddCheckoutKey)
	post("/checkout-key/{fp}/delete", s.settingsDelete(s.deleteKey(store.SSHKeyCheckout), "Checkout key %s deleted.", "fp"))
	post("/ssh-key", s.settingsAddSSHKey)
	post("/ssh-key/{fp}/delete", s.settingsDelete(s.deleteKey(store.SSHKeyAdditional), "SSH key %s deleted.", "fp"))
	post("/schedule", s.settingsAddSchedule)
	post("/schedule/{id}/delete", s.settingsDeleteSchedule)
	if s.cfg.Integrations.Webhooks != nil {
		post("/webhook", s.settingsAddWebhook)
		post("/webhook/{webhook_id}/delete", s.settingsDelete(s.deleteWebhook, "Webhook deleted.", ""))
	}
	if s.cfg.Notifications != nil {
		post("/notifications", s.settingsNotifications)
	}
}

// settingsNotifications turns the project's workflow mails on or off.
func (s *server) settingsNotifications(r *http.Request) (string, string, error) {
	on := r.PostFormValue("enabled") == "true"
	if _, err := s.callAPI(r, s.audited(projectSettingsUpdate, projectTarget, s.setProjectNotifications), map[string]bool{"enabled": on}); err != nil {
		return "", "", err
	}
	if on {
		return settingsURL(r), "Workflow emails turned on for this project.", nil
	}
	return settingsURL(r), "Workflow emails turned off for this project.", nil
}

// settingsURL is the settings page of the request's project.
func settingsURL(r *http.Request) string { return "/ui/project/" + slugOf(r) + "/settings" }

type settingsPage struct {
	uiBase
	Slug, Owner  string
	Vars         []vault.Var
	CheckoutKeys []store.SSHKey
	SSHKeys      []store.SSHKey
	Schedules    []store.PipelineSchedule
	// Webhooks is nil without outbound webhooks (Integrations.Webhooks).
	Webhooks      []store.Webhook
	WebhooksOn    bool
	Advanced      []settingsAdvanced
	Contexts      []settingsContext
	CanAdmin      bool
	WebhookEvents []string
	// Weekdays are the schedule form's days (CircleCI's names).
	Weekdays []string
	// Notifications: the project's workflow mails can be turned on and off.
	Notifications bool
}

type settingsContext struct {
	ID, Name string
	Vars     []string
	Allowed  bool
}

// settingsAdvanced is one of CircleCI's advanced settings: what Orbit
// does, and why it cannot change.
type settingsAdvanced struct {
	Name, Value, Why string
}

// uiSettings shows a project's variables (masked), keys (public halves),
// schedules, webhooks (secrets masked), advanced settings and its
// organization's contexts with the names of their variables.
func (s *server) uiSettings(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	slug, scope, err := s.projectScope(r)
	if err != nil {
		return "", nil, err
	}
	proj, err := s.st.GetProject(ctx, slug)
	if err != nil {
		return "", nil, err
	}
	page := &settingsPage{uiBase: uiBase{Title: slug + " settings", Nav: "projects"}, Slug: slug, Owner: vault.Owner(slug),
		WebhookEvents: []string{store.EventWorkflowCompleted, store.EventJobCompleted},
		Weekdays:      []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}}
	if page.CanAdmin, err = s.can(ctx, slug, accounts.Admin); err != nil {
		return "", nil, err
	}
	if page.Vars, err = s.cfg.Vault.ListVars(ctx, scope); err != nil {
		return "", nil, err
	}
	if page.CheckoutKeys, err = s.cfg.Vault.ListKeys(ctx, slug, store.SSHKeyCheckout); err != nil {
		return "", nil, err
	}
	if page.SSHKeys, err = s.cfg.Vault.ListKeys(ctx, slug, store.SSHKeyAdditional); err != nil {
		return "", nil, err
	}
	if page.Schedules, _, err = s.st.ListPipelineSchedules(ctx, slug, "", 100); err != nil {
		return "", nil, err
	}
	if s.cfg.Integrations.Webhooks != nil {
		page.WebhooksOn = true
		if page.Webhooks, err = s.cfg.Integrations.Webhooks.List(ctx, slug); err != nil {
			return "", nil, err
		}
	}
	page.Advanced = advancedRows(proj)
	page.Notifications = s.cfg.Notifications != nil
	cs, err := s.st.ListContexts(ctx, page.Owner)
	if err != nil {
		return "", nil, err
	}
	for _, c := range cs {
		vars, err := s.st.ListVars(ctx, store.ContextScope(c.ID))
		if err != nil {
			return "", nil, err
		}
		sc := settingsContext{ID: c.ID, Name: c.Name, Allowed: len(c.Restrictions) == 0 ||
			slices.ContainsFunc(c.Restrictions, func(r store.Restriction) bool { return r.ProjectSlug == slug })}
		for _, v := range vars {
			sc.Vars = append(sc.Vars, v.Name)
		}
		page.Contexts = append(page.Contexts, sc)
	}
	return "settings", page, nil
}

// advancedRows lists the advanced settings (project_settings.go) by name.
func advancedRows(p store.Project) []settingsAdvanced {
	adv, why := projectSettings(p)
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	rows := []settingsAdvanced{
		{"autocancel_builds", onOff(adv.AutocancelBuilds), ""},
		{"build_fork_prs", onOff(adv.BuildForkPRs), ""},
		{"build_prs_only", onOff(adv.BuildPRsOnly), ""},
		{"disable_ssh", onOff(adv.DisableSSH), ""},
		{"forks_receive_secret_env_vars", onOff(adv.ForksReceiveSecretEnvVars), ""},
		{"oss", onOff(adv.OSS), ""},
		{"set_github_status", onOff(adv.SetGitHubStatus), ""},
		{"setup_workflows", onOff(adv.SetupWorkflows), ""},
		{"write_settings_requires_admin", onOff(adv.WriteSettingsRequiresAdmin), ""},
		{"pr_only_branch_overrides", strings.Join(adv.PROnlyBranchOverrides, ", "), ""},
	}
	for i := range rows {
		rows[i].Why = why[rows[i].Name]
	}
	return rows
}

func (s *server) settingsAddVar(r *http.Request) (string, string, error) {
	name := formValue(r, "name")
	_, err := s.callAPI(r, s.audited(audit.ProjectEnvVarCreate, projectTarget, s.createEnvVar),
		map[string]string{"name": name, "value": r.PostFormValue("value")})
	if err != nil {
		return "", "", err
	}
	return settingsURL(r), "Variable " + name + " saved.", nil
}

// settingsDelete runs an API delete handler; notice may name the path
// value key ("%s").
func (s *server) settingsDelete(h apiFunc, notice, key string) actionFunc {
	return func(r *http.Request) (string, string, error) {
		if _, err := s.callAPI(r, h, nil); err != nil {
			return "", "", err
		}
		if key != "" {
			notice = strings.Replace(notice, "%s", r.PathValue(key), 1)
		}
		return settingsURL(r), notice, nil
	}
}

func (s *server) settingsAddCheckoutKey(r *http.Request) (string, string, error) {
	typ := formValue(r, "type")
	if typ == "" {
		typ = "deploy-key"
	}
	a, err := s.callAPI(r, s.createCheckoutKey, map[string]string{"type": typ})
	if err != nil {
		return "", "", err
	}
	fp, _ := a["fingerprint"].(string)
	return settingsURL(r), "Checkout key " + fp + " created: add its public half to the repository as a deploy key.", nil
}

func (s *server) settingsAddSSHKey(r *http.Request) (string, string, error) {
	a, err := s.callAPI(r, s.addSSHKey, map[string]string{"hostname": formValue(r, "hostname"), "private_key": r.PostFormValue("private_key")})
	if err != nil {
		return "", "", err
	}
	fp, _ := a["md5"].(string)
	return settingsURL(r), "SSH key " + fp + " added.", nil
}

// settingsAddSchedule makes a schedule from the form: a name, the hours
// (comma-separated, UTC), runs per hour, the days of the week and the
// branch.
func (s *server) settingsAddSchedule(r *http.Request) (string, string, error) {
	hours, err := intList(formValue(r, "hours"), "hours")
	if err != nil {
		return "", "", err
	}
	perHour := 1
	if v := formValue(r, "per_hour"); v != "" {
		if perHour, err = strconv.Atoi(v); err != nil {
			return "", "", badRequest("runs per hour %q is not a number", v)
		}
	}
	params := map[string]any{}
	if b := formValue(r, "branch"); b != "" {
		params["branch"] = b
	}
	tt := timetableJSON{PerHour: perHour, HoursOfDay: hours, DaysOfWeek: r.PostForm["days"]}
	name := formValue(r, "name")
	_, err = s.callAPI(r, s.createSchedule, scheduleRequest{Name: &name, Description: ptr(formValue(r, "description")),
		Timetable: &tt, AttributionActor: ptr("current"), Parameters: params})
	if err != nil {
		return "", "", err
	}
	return settingsURL(r), "Schedule " + name + " created.", nil
}

// settingsDeleteSchedule deletes a schedule of the path's project (a
// schedule of another project is not found here).
func (s *server) settingsDeleteSchedule(r *http.Request) (string, string, error) {
	p, err := s.st.GetPipelineSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		return "", "", err
	}
	if p.ProjectSlug != slugOf(r) {
		return "", "", store.ErrNotFound
	}
	if _, err := s.callAPI(r, s.deleteSchedule, nil); err != nil {
		return "", "", err
	}
	return settingsURL(r), "Schedule " + p.Name + " deleted.", nil
}

func (s *server) settingsAddWebhook(r *http.Request) (string, string, error) {
	name, url, secret := formValue(r, "name"), formValue(r, "url"), r.PostFormValue("signing_secret")
	verify := r.PostFormValue("verify_tls") != ""
	events := r.PostForm["events"]
	if events == nil {
		events = []string{}
	}
	_, err := s.callAPI(r, s.createWebhook, webhookBody{Name: &name, URL: &url, Events: events, VerifyTLS: &verify,
		Secret: &secret, Scope: &webhookScope{ID: ids.Project(slugOf(r)), Type: "project"}})
	if err != nil {
		return "", "", err
	}
	return settingsURL(r), "Webhook " + name + " created.", nil
}

// intList reads "9, 13,17" as numbers; field names the form field in the
// error.
func intList(s, field string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, badRequest("%s: %q is not a number", field, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
