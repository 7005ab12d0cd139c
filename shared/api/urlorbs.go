package api

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/store"
)

// CircleCI's url-orb-allow-list API: which URLs the configs of an
// organization's projects may import orbs from (`orbs: x: https://…`,
// fetched at compile time by orbimport.URLOrbs).
//
//	GET    /api/v2/organization/{org}/url-orb-allow-list        {items: [{id, name, prefix, auth}]}
//	POST   /api/v2/organization/{org}/url-orb-allow-list        {name, prefix, auth} → {id, message}
//	DELETE /api/v2/organization/{org}/url-orb-allow-list/{id}   {id, message}
//
// {org} is the organization's id, or its slug (local/acme, gh/acme; the
// slash may be given as %2F). Reading needs read access to the
// organization, changing it admin. Orbit fetches without credentials, so
// auth must be "none".

type urlOrbEntryJSON struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	Auth   string `json:"auth"`
}

type idMessage struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (s *server) routeURLOrbs(mux *http.ServeMux) {
	for _, org := range []string{"/api/v2/organization/{org}", "/api/v2/organization/{vcs}/{name}"} {
		s.route(mux, "GET "+org+"/url-orb-allow-list", signedIn, s.api(s.listURLOrbAllowList))
		s.route(mux, "POST "+org+"/url-orb-allow-list", signedIn, s.api(s.addURLOrbAllowEntry))
		s.route(mux, "DELETE "+org+"/url-orb-allow-list/{entry}", signedIn, s.api(s.deleteURLOrbAllowEntry))
	}
}

// orgOf is the organization slug the path names, checked for the
// caller's level.
func (s *server) orgOf(r *http.Request, level accounts.Level) (string, error) {
	var owner string
	if vcs := r.PathValue("vcs"); vcs != "" {
		owner = vcs + "/" + r.PathValue("name")
	} else if org := r.PathValue("org"); strings.Contains(org, "/") {
		owner = org
	} else {
		var err error
		if owner, err = s.ownerSlug(r, "", org); err != nil {
			return "", err
		}
	}
	return owner, s.requireOn(r.Context(), owner, level)
}

func (s *server) listURLOrbAllowList(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgOf(r, accounts.Read)
	if err != nil {
		return err
	}
	list, err := s.st.URLOrbAllowList(r.Context(), owner)
	if err != nil {
		return err
	}
	items := make([]urlOrbEntryJSON, 0, len(list))
	for _, e := range list {
		items = append(items, urlOrbEntryJSON{ID: e.ID, Name: e.Name, Prefix: e.Prefix, Auth: e.Auth})
	}
	writeJSON(w, http.StatusOK, itemsJSON[urlOrbEntryJSON]{Items: items})
	return nil
}

func (s *server) addURLOrbAllowEntry(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgOf(r, accounts.Admin)
	if err != nil {
		return err
	}
	var body struct {
		Name   string `json:"name"`
		Prefix string `json:"prefix"`
		Auth   string `json:"auth"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	switch {
	case body.Name == "":
		return badRequest("name is required")
	case !config.IsURLOrb(body.Prefix):
		return badRequest("prefix %q: a URL prefix starting with https:// (or http://) is required", body.Prefix)
	case body.Auth != "none":
		return badRequest("auth %q: Orbit fetches URL orbs without credentials; only \"none\" is supported", body.Auth)
	}
	e, err := s.st.PutURLOrbAllowEntry(r.Context(), store.URLOrbAllowEntry{ID: uuid.NewString(), Owner: owner,
		Name: body.Name, Prefix: body.Prefix, Auth: body.Auth})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, idMessage{ID: e.ID, Message: "Created."})
	return nil
}

func (s *server) deleteURLOrbAllowEntry(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgOf(r, accounts.Admin)
	if err != nil {
		return err
	}
	id := r.PathValue("entry")
	if err := s.st.DeleteURLOrbAllowEntry(r.Context(), owner, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, idMessage{ID: id, Message: "Deleted."})
	return nil
}
