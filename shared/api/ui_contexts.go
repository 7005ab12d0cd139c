package api

import (
	"net/http"
	"slices"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

// The contexts pages (served with Config.Vault):
//
//	GET  /ui/contexts                     the contexts of each organization the user sees, a create form
//	POST /ui/contexts                     {owner, name} → the new context's page
//	GET  /ui/contexts/{id}                its variables (masked) and project restrictions
//	POST /ui/contexts/{id}/delete
//	POST /ui/contexts/{id}/envvar         {name, value}
//	POST /ui/contexts/{id}/envvar/{name}/delete
//	POST /ui/contexts/{id}/restrictions   {project}: a project id of the organization
//	POST /ui/contexts/{id}/restrictions/{rid}/delete
//
// Each form runs the API's handler (callAPI), with its checks and audit:
// creating needs admin access on the organization, changing a context
// admin access on its owner.
func (s *server) routeUIContexts(mux *http.ServeMux) {
	admin := onProject(accounts.Admin, ByContext)
	back := func(r *http.Request) string { return "/ui/contexts/" + r.PathValue("id") }
	s.route(mux, "GET /ui/contexts", signedIn, s.html(s.uiContexts))
	s.route(mux, "POST /ui/contexts", signedIn, s.formAction(func(*http.Request) string { return "/ui/contexts" }, s.contextsCreate))
	s.route(mux, "GET /ui/contexts/{id}", onProject(accounts.Read, ByContext), s.html(s.uiContext))
	s.route(mux, "POST /ui/contexts/{id}/delete", admin, s.formAction(back, s.contextsDelete))
	s.route(mux, "POST /ui/contexts/{id}/envvar", admin, s.formAction(back, s.contextsAddVar))
	s.route(mux, "POST /ui/contexts/{id}/envvar/{name}/delete", admin, s.formAction(back, s.contextsStep(
		s.audited(audit.ContextEnvVarDelete, contextTarget, s.deleteContextVar), nil, "Variable deleted.")))
	s.route(mux, "POST /ui/contexts/{id}/restrictions", admin, s.formAction(back, s.contextsStep(s.createRestriction,
		func(r *http.Request) any {
			return map[string]string{"restriction_type": "project", "restriction_value": formValue(r, "project")}
		}, "Restriction added: only that project's jobs (and other allowed ones) may use the context.")))
	s.route(mux, "POST /ui/contexts/{id}/restrictions/{rid}/delete", admin, s.formAction(back, s.contextsStep(s.deleteRestriction, nil, "Restriction removed.")))
}

type contextsPage struct {
	uiBase
	Orgs []contextsOrg
	// Owners are the organizations the user may create contexts in.
	Owners []string
	Owner  string
}

type contextsOrg struct {
	Owner    string
	Contexts []store.Context
	CanAdmin bool
}

// orgsOf are the organizations of the projects the user sees, sorted.
func (s *server) orgsOf(r *http.Request) ([]string, error) {
	ps, err := s.visibleProjects(r.Context())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		out = append(out, vault.Owner(p.Slug))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (s *server) uiContexts(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	orgs, err := s.orgsOf(r)
	if err != nil {
		return "", nil, err
	}
	page := &contextsPage{uiBase: uiBase{Title: "Contexts", Nav: "contexts"}, Owner: r.URL.Query().Get("org")}
	for _, o := range orgs {
		if page.Owner != "" && o != page.Owner {
			continue
		}
		co := contextsOrg{Owner: o}
		if co.CanAdmin, err = s.can(ctx, o, accounts.Admin); err != nil {
			return "", nil, err
		}
		if co.Contexts, err = s.st.ListContexts(ctx, o); err != nil {
			return "", nil, err
		}
		if co.CanAdmin {
			page.Owners = append(page.Owners, o)
		}
		page.Orgs = append(page.Orgs, co)
	}
	return "contexts", page, nil
}

func (s *server) contextsCreate(r *http.Request) (string, string, error) {
	name := formValue(r, "name")
	a, err := s.callAPI(r, s.audited(audit.ContextCreate, contextTarget, s.createContext),
		map[string]any{"name": name, "owner": map[string]string{"slug": formValue(r, "owner")}})
	if err != nil {
		return "", "", err
	}
	id, _ := a["id"].(string)
	return "/ui/contexts/" + id, "Context " + name + " created.", nil
}

type contextPage struct {
	uiBase
	Context      store.Context
	Vars         []vault.Var
	Restrictions []contextRestriction
	// Projects are the organization's projects a restriction may name.
	Projects []contextProject
	CanAdmin bool
}

type contextRestriction struct {
	ID, Project string
}

type contextProject struct {
	ID, Slug string
}

func (s *server) uiContext(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	c, err := s.st.GetContext(ctx, r.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	page := &contextPage{uiBase: uiBase{Title: "Context " + c.Name, Nav: "contexts"}, Context: c}
	if page.CanAdmin, err = s.can(ctx, c.Owner, accounts.Admin); err != nil {
		return "", nil, err
	}
	if page.Vars, err = s.cfg.Vault.ListVars(ctx, store.ContextScope(c.ID)); err != nil {
		return "", nil, err
	}
	for _, rs := range c.Restrictions {
		page.Restrictions = append(page.Restrictions, contextRestriction{ID: rs.ID, Project: rs.ProjectSlug})
	}
	ps, err := s.visibleProjects(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, p := range ps {
		if vault.Owner(p.Slug) == c.Owner {
			page.Projects = append(page.Projects, contextProject{ID: ids.Project(p.Slug), Slug: p.Slug})
		}
	}
	return "context", page, nil
}

func (s *server) contextsDelete(r *http.Request) (string, string, error) {
	c, err := s.st.GetContext(r.Context(), r.PathValue("id"))
	if err != nil {
		return "", "", err
	}
	if _, err := s.callAPI(r, s.audited(audit.ContextDelete, contextTarget, s.deleteContext), nil); err != nil {
		return "", "", err
	}
	return "/ui/contexts", "Context " + c.Name + " deleted.", nil
}

func (s *server) contextsAddVar(r *http.Request) (string, string, error) {
	name := formValue(r, "name")
	_, err := s.callAPI(r, s.audited(audit.ContextEnvVarStore, contextTarget, s.putContextVar),
		map[string]string{"value": r.PostFormValue("value")}, "name", name)
	if err != nil {
		return "", "", err
	}
	return "/ui/contexts/" + r.PathValue("id"), "Variable " + name + " saved.", nil
}

// contextsStep runs an API handler on the path's context with the body
// body(r) makes (nil: none) and returns to the context's page.
func (s *server) contextsStep(h apiFunc, body func(*http.Request) any, notice string) actionFunc {
	return func(r *http.Request) (string, string, error) {
		var b any
		if body != nil {
			b = body(r)
		}
		if _, err := s.callAPI(r, h, b); err != nil {
			return "", "", err
		}
		return "/ui/contexts/" + r.PathValue("id"), notice, nil
	}
}
