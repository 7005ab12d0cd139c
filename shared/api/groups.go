package api

import (
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/store"
)

// Groups, CircleCI's Groups operations: an organization's named groups,
// kept in the store. Seeing them needs read access to the organization,
// changing them admin access. (Orbit's permissions come from the VCS or
// the local role: a group grants nothing of itself.)
//
//	GET|POST   /api/v2/organizations/{org_id}/groups   (limit, page-token)
//	GET|DELETE /api/v2/organizations/{org_id}/groups/{group_id}
func (s *server) routeGroups(mux *http.ServeMux) {
	const base = "/api/v2/organizations/{org_id}/groups"
	s.route(mux, "GET "+base, onOrgID(accounts.Read), s.api(s.listGroups))
	s.route(mux, "POST "+base, onOrgID(accounts.Admin), s.api(s.createGroup))
	s.route(mux, "GET "+base+"/{group_id}", onOrgID(accounts.Read), s.api(s.getGroup))
	s.route(mux, "DELETE "+base+"/{group_id}", onOrgID(accounts.Admin), s.api(s.deleteGroup))
}

type groupJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func groupView(g store.Group) groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, Description: g.Description}
}

// maxGroupName bounds a group's name.
const maxGroupName = 100

func (s *server) createGroup(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgByID(r.Context(), r.PathValue("org_id"))
	if err != nil {
		return err
	}
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Name == "" || len(body.Name) > maxGroupName {
		return badRequest("name is required, at most %d characters", maxGroupName)
	}
	gs, err := s.st.ListGroups(r.Context(), owner)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if g.Name == body.Name {
			return badRequest("a group named %q already exists", body.Name)
		}
	}
	g, err := s.st.CreateGroup(r.Context(), store.Group{ID: uuid.NewString(), Owner: owner, Name: body.Name, Description: body.Description})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, groupView(g))
	return nil
}

func (s *server) listGroups(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgByID(r.Context(), r.PathValue("org_id"))
	if err != nil {
		return err
	}
	gs, err := s.st.ListGroups(r.Context(), owner)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, from := len(gs), 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 {
			return badRequest("limit %q: want a positive number", l)
		}
	}
	if t := q.Get("page-token"); t != "" {
		if from, err = strconv.Atoi(t); err != nil || from < 0 || from > len(gs) {
			return badRequest("page-token %q is not one this server gave", t)
		}
	}
	end := min(from+limit, len(gs))
	next := ""
	if end < len(gs) {
		next = strconv.Itoa(end)
	}
	items := make([]groupJSON, 0, end-from)
	for _, g := range gs[from:end] {
		items = append(items, groupView(g))
	}
	l := newList(items, next)
	writeJSON(w, http.StatusOK, groupListJSON{l, len(gs)})
	return nil
}

func (s *server) getGroup(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgByID(r.Context(), r.PathValue("org_id"))
	if err != nil {
		return err
	}
	g, err := s.st.GetGroup(r.Context(), owner, r.PathValue("group_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupView(g))
	return nil
}

func (s *server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgByID(r.Context(), r.PathValue("org_id"))
	if err != nil {
		return err
	}
	if err := s.st.DeleteGroup(r.Context(), owner, r.PathValue("group_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Group deleted."})
	return nil
}

// groupListJSON is CircleCI's page of groups, with their total count.
type groupListJSON struct {
	listJSON[groupJSON]
	TotalCount int `json:"total_count"`
}
