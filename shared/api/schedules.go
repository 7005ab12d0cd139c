package api

import (
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/schedule"
	"github.com/orbit-ci/orbit/shared/store"
)

// CircleCI's Schedule operations (scheduled pipelines made through the
// API; shared/schedule runs them each due minute, beside the config's
// `triggers: schedule`):
//
//	GET    /api/v2/project/{slug}/schedule   a project's schedules (page-token ↔ next_page_token)
//	POST   /api/v2/project/{slug}/schedule   {name, description, timetable, attribution-actor, parameters} → 201
//	GET    /api/v2/schedule/{id}             a schedule
//	PATCH  /api/v2/schedule/{id}             change any of those fields → 200
//	DELETE /api/v2/schedule/{id}             → {message}
//
// parameters carries "branch" or "tag" (what the runs build; the default
// branch without either) beside the pipeline parameters.
func (s *server) routeSchedules(mux *http.ServeMux, project string) {
	s.route(mux, "GET "+project+"/schedule", onProject(accounts.Read, BySlug), s.api(s.listSchedules))
	s.route(mux, "POST "+project+"/schedule", onProject(accounts.Admin, BySlug), s.api(s.createSchedule))
	s.route(mux, "GET /api/v2/schedule/{id}", onProject(accounts.Read, BySchedule), s.api(s.getSchedule))
	s.route(mux, "PATCH /api/v2/schedule/{id}", onProject(accounts.Admin, BySchedule), s.api(s.updateSchedule))
	s.route(mux, "DELETE /api/v2/schedule/{id}", onProject(accounts.Admin, BySchedule), s.api(s.deleteSchedule))
}

// scheduleJSON is CircleCI's Schedule.
type scheduleJSON struct {
	ID          string         `json:"id"`
	Timetable   timetableJSON  `json:"timetable"`
	UpdatedAt   time.Time      `json:"updated-at"`
	Name        string         `json:"name"`
	CreatedAt   time.Time      `json:"created-at"`
	ProjectSlug string         `json:"project-slug"`
	Parameters  map[string]any `json:"parameters"`
	Actor       userView       `json:"actor"`
	Description string         `json:"description"`
}

// timetableJSON is CircleCI's timetable.
type timetableJSON struct {
	PerHour     int      `json:"per-hour"`
	HoursOfDay  []int    `json:"hours-of-day"`
	DaysOfWeek  []string `json:"days-of-week,omitempty"`
	DaysOfMonth []int    `json:"days-of-month,omitempty"`
	Months      []string `json:"months,omitempty"`
}

// systemActor is CircleCI's actor of schedules attributed to the system.
var systemActor = userView{ID: "00000000-0000-0000-0000-000000000000", Login: "system-actor", Name: "Scheduled"}

func scheduleView(p store.PipelineSchedule) scheduleJSON {
	actor := systemActor
	if p.ActorID != "" {
		actor = userView{ID: p.ActorID, Login: p.ActorLogin, Name: p.ActorLogin}
	}
	params := p.Parameters
	if params == nil {
		params = map[string]any{}
	}
	t := p.Timetable
	return scheduleJSON{ID: p.ID, Name: p.Name, Description: p.Description, ProjectSlug: p.ProjectSlug,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Parameters: params, Actor: actor,
		Timetable: timetableJSON{PerHour: t.PerHour, HoursOfDay: t.HoursOfDay, DaysOfWeek: t.DaysOfWeek,
			DaysOfMonth: t.DaysOfMonth, Months: t.Months}}
}

// scheduleRequest is CircleCI's CreateScheduleParameters and
// UpdateScheduleParameters (every field optional in an update).
type scheduleRequest struct {
	Name             *string        `json:"name"`
	Description      *string        `json:"description"`
	Timetable        *timetableJSON `json:"timetable"`
	AttributionActor *string        `json:"attribution-actor"`
	Parameters       map[string]any `json:"parameters"`
}

// apply checks req and writes it into p; create says every required field
// must be there.
func (req scheduleRequest) apply(r *http.Request, p *store.PipelineSchedule, create bool) error {
	if create {
		switch {
		case req.Name == nil || *req.Name == "":
			return badRequest("request body: name is required")
		case req.Timetable == nil:
			return badRequest("request body: timetable is required")
		case req.AttributionActor == nil:
			return badRequest(`request body: attribution-actor is required ("current" or "system")`)
		}
	}
	if req.Name != nil {
		if *req.Name == "" {
			return badRequest("request body: name must not be empty")
		}
		p.Name = *req.Name
	}
	if req.Description != nil {
		p.Description = *req.Description
	}
	if req.Timetable != nil {
		t := store.Timetable{PerHour: req.Timetable.PerHour, HoursOfDay: req.Timetable.HoursOfDay,
			DaysOfWeek: req.Timetable.DaysOfWeek, DaysOfMonth: req.Timetable.DaysOfMonth, Months: req.Timetable.Months}
		if err := schedule.CheckTimetable(t); err != nil {
			return badRequest("request body: timetable: %v", err)
		}
		p.Timetable = t
	}
	if req.AttributionActor != nil {
		switch *req.AttributionActor {
		case "current":
			u := me(r)
			p.ActorID, p.ActorLogin = u.ID, u.Login
		case "system":
			p.ActorID, p.ActorLogin = "", ""
		default:
			return badRequest(`request body: attribution-actor %q: expected "current" or "system"`, *req.AttributionActor)
		}
	}
	if req.Parameters != nil {
		if err := checkParameters(req.Parameters); err != nil {
			return err
		}
		_, branch := req.Parameters["branch"]
		_, tag := req.Parameters["tag"]
		for _, k := range []string{"branch", "tag"} {
			if v, ok := req.Parameters[k]; ok {
				if _, isString := v.(string); !isString {
					return badRequest("parameters.%s must be a string", k)
				}
			}
		}
		if branch && tag {
			return badRequest("parameters: give branch or tag, not both")
		}
		p.Parameters = req.Parameters
	}
	return nil
}

func (s *server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	token := r.URL.Query().Get("page-token")
	scheds, next, err := s.st.ListPipelineSchedules(r.Context(), slug, token, s.cfg.PageSize)
	if err != nil {
		return pageError(err, token)
	}
	writeList(w, scheds, next, scheduleView)
	return nil
}

func (s *server) createSchedule(w http.ResponseWriter, r *http.Request) error {
	var req scheduleRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	p := store.PipelineSchedule{ProjectSlug: slug}
	if err := req.apply(r, &p, true); err != nil {
		return err
	}
	p, err := s.st.CreatePipelineSchedule(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, scheduleView(p))
	return nil
}

func (s *server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.GetPipelineSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, scheduleView(p))
	return nil
}

func (s *server) updateSchedule(w http.ResponseWriter, r *http.Request) error {
	var req scheduleRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	p, err := s.st.UpdatePipelineSchedule(r.Context(), r.PathValue("id"), func(p *store.PipelineSchedule) error {
		return req.apply(r, p, false)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, scheduleView(p))
	return nil
}

func (s *server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	if err := s.st.DeletePipelineSchedule(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Schedule deleted."})
	return nil
}
