package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/notify"
)

// Notification settings (served when Config.Notifications is set):
//
//	PUT /api/v2/notifications/user/{login} {"email", "enabled"}   a user's workflow mails on/off
//	PUT /api/v2/project/{slug}/notifications {"enabled"}          a project's workflow mails on/off
//
// A user sets only their own setting (admins anyone's); the project's
// needs admin on the project.

// Notifications stores the settings; *notify.Notifier satisfies it.
type Notifications interface {
	SetUser(ctx context.Context, login string, s notify.UserSetting) error
	SetProject(ctx context.Context, slug string, s notify.ProjectSetting) error
}

var _ Notifications = (*notify.Notifier)(nil)

func (s *server) routeNotifications(mux *http.ServeMux, project string) {
	s.route(mux, "PUT /api/v2/notifications/user/{login}", signedIn, s.api(s.setUserNotifications))
	s.route(mux, "PUT "+project+"/notifications", onProject(accounts.Admin, BySlug), s.api(s.audited(projectSettingsUpdate, projectTarget, s.setProjectNotifications)))
}

// projectSettingsUpdate: a project's notification setting is one of its settings.
const projectSettingsUpdate = audit.ProjectSettingsUpdate

func (s *server) setUserNotifications(w http.ResponseWriter, r *http.Request) error {
	var body notify.UserSetting
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if u := me(r); u.Login != r.PathValue("login") && !u.IsAdmin() {
		return &forbiddenError{"you may change only your own notification settings"}
	}
	if err := s.cfg.Notifications.SetUser(r.Context(), r.PathValue("login"), body); err != nil {
		if errors.Is(err, notify.ErrInvalid) {
			return badRequest("%s", err.Error())
		}
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *server) setProjectNotifications(w http.ResponseWriter, r *http.Request) error {
	slug := r.PathValue("vcs") + "/" + r.PathValue("org") + "/" + r.PathValue("repo")
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	var body notify.ProjectSetting
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if err := s.cfg.Notifications.SetProject(r.Context(), slug, body); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, projectNotificationsJSON{Enabled: body.Enabled, Slug: slug})
	return nil
}
