package api

import (
	"net/http"
	"slices"

	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

// --- a project's settings page (read-only) ---

type settingsPage struct {
	uiBase
	Slug, Owner  string
	Vars         []vault.Var
	CheckoutKeys []store.SSHKey
	SSHKeys      []store.SSHKey
	Contexts     []settingsContext
}

type settingsContext struct {
	Name    string
	Vars    []string
	Allowed bool
}

// uiSettings shows a project's variables (masked), keys (public halves) and
// its organization's contexts with the names of their variables.
func (s *server) uiSettings(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	slug, scope, err := s.projectScope(r)
	if err != nil {
		return "", nil, err
	}
	page := &settingsPage{uiBase: uiBase{Title: slug + " settings", Nav: "projects"}, Slug: slug, Owner: vault.Owner(slug)}
	if page.Vars, err = s.cfg.Vault.ListVars(ctx, scope); err != nil {
		return "", nil, err
	}
	if page.CheckoutKeys, err = s.cfg.Vault.ListKeys(ctx, slug, store.SSHKeyCheckout); err != nil {
		return "", nil, err
	}
	if page.SSHKeys, err = s.cfg.Vault.ListKeys(ctx, slug, store.SSHKeyAdditional); err != nil {
		return "", nil, err
	}
	cs, err := s.st.ListContexts(ctx, page.Owner)
	if err != nil {
		return "", nil, err
	}
	for _, c := range cs {
		vars, err := s.st.ListVars(ctx, store.ContextScope(c.ID))
		if err != nil {
			return "", nil, err
		}
		sc := settingsContext{Name: c.Name, Allowed: len(c.Restrictions) == 0 ||
			slices.ContainsFunc(c.Restrictions, func(r store.Restriction) bool { return r.ProjectSlug == slug })}
		for _, v := range vars {
			sc.Vars = append(sc.Vars, v.Name)
		}
		page.Contexts = append(page.Contexts, sc)
	}
	return "settings", page, nil
}
