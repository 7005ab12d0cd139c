package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

// Secrets routes (served when Config.Vault is set), CircleCI's shapes.
// Values are never answered in clear: a variable's value is its mask
// ("xxxx" + last 4 characters), a context variable has no value at all,
// and keys show only their public half.
//
//	GET    /api/v2/project/{slug}/envvar                 {items: [{name, value (masked), created-at}]}
//	POST   /api/v2/project/{slug}/envvar                 {name, value} → 201 (masked)
//	GET    /api/v2/project/{slug}/envvar/{name}          masked
//	DELETE /api/v2/project/{slug}/envvar/{name}          {message}
//	POST   /api/v2/context                               {name, owner: {slug | id}} → 200 context
//	GET    /api/v2/context?owner-slug=|owner-id=         {items: [{id, name, created_at}]}
//	GET    /api/v2/context/{id}                          context
//	DELETE /api/v2/context/{id}                          {message}
//	PUT    /api/v2/context/{id}/environment-variable/{name}  {value} → {variable, created_at, updated_at, context_id}
//	GET    /api/v2/context/{id}/environment-variable     {items: [...]} (no values)
//	DELETE /api/v2/context/{id}/environment-variable/{name}  {message}
//	GET    /api/v2/context/{id}/restrictions             {items: [{id, context_id, project_id, name, restriction_type, restriction_value}]}
//	POST   /api/v2/context/{id}/restrictions             {restriction_type: project, restriction_value: <project id>} → 201
//	DELETE /api/v2/context/{id}/restrictions/{rid}       {message}
//
// A context with project restrictions serves only those projects' jobs
// (the others' jobs become unauthorized); expression and group
// restrictions are refused (400): Orbit has no users or groups yet.
//
//	GET    /api/v2/project/{slug}/checkout-key[?digest=md5|sha256]  {items: [{public-key, type, fingerprint, preferred, created-at}]}
//	POST   /api/v2/project/{slug}/checkout-key           {type: deploy-key} → 201 key
//	GET    /api/v2/project/{slug}/checkout-key/{fp}      key (fp: the MD5 fingerprint, or the SHA256
//	                                                     one in URL-safe base64: "-" for "+", "_" for "/")
//	DELETE /api/v2/project/{slug}/checkout-key/{fp}      {message}
//
// Orbit extension (CircleCI has these in API v1.1 only):
//
//	GET    /api/v2/project/{slug}/ssh-key                {items: [{fingerprint, md5, hostname, public-key, created-at}]}
//	POST   /api/v2/project/{slug}/ssh-key                {hostname, private_key} → 201 key
//	DELETE /api/v2/project/{slug}/ssh-key/{fp}           {message}
func (s *server) routeVault(mux *http.ServeMux, project string) {
	s.route(mux, "GET "+project+"/envvar", onProject(accounts.Read, BySlug), s.api(s.listEnvVars))
	s.route(mux, "POST "+project+"/envvar", onProject(accounts.Admin, BySlug), s.api(s.audited(audit.ProjectEnvVarCreate, projectTarget, s.createEnvVar)))
	s.route(mux, "GET "+project+"/envvar/{name}", onProject(accounts.Read, BySlug), s.api(s.getEnvVar))
	s.route(mux, "DELETE "+project+"/envvar/{name}", onProject(accounts.Admin, BySlug), s.api(s.audited(audit.ProjectEnvVarDelete, projectTarget, s.deleteEnvVar)))
	s.route(mux, "POST /api/v2/context", signedIn, s.api(s.audited(audit.ContextCreate, contextTarget, s.createContext)))
	s.route(mux, "GET /api/v2/context", signedIn, s.api(s.listContexts))
	s.route(mux, "GET /api/v2/context/{id}", onProject(accounts.Read, ByContext), s.api(s.getContext))
	s.route(mux, "DELETE /api/v2/context/{id}", onProject(accounts.Admin, ByContext), s.api(s.audited(audit.ContextDelete, contextTarget, s.deleteContext)))
	s.route(mux, "PUT /api/v2/context/{id}/environment-variable/{name}", onProject(accounts.Admin, ByContext), s.api(s.audited(audit.ContextEnvVarStore, contextTarget, s.putContextVar)))
	s.route(mux, "GET /api/v2/context/{id}/environment-variable", onProject(accounts.Read, ByContext), s.api(s.listContextVars))
	s.route(mux, "DELETE /api/v2/context/{id}/environment-variable/{name}", onProject(accounts.Admin, ByContext), s.api(s.audited(audit.ContextEnvVarDelete, contextTarget, s.deleteContextVar)))
	s.route(mux, "GET /api/v2/context/{id}/restrictions", onProject(accounts.Read, ByContext), s.api(s.listRestrictions))
	s.route(mux, "POST /api/v2/context/{id}/restrictions", onProject(accounts.Admin, ByContext), s.api(s.createRestriction))
	s.route(mux, "DELETE /api/v2/context/{id}/restrictions/{rid}", onProject(accounts.Admin, ByContext), s.api(s.deleteRestriction))
	s.route(mux, "GET "+project+"/checkout-key", onProject(accounts.Read, BySlug), s.api(s.listKeys(store.SSHKeyCheckout)))
	s.route(mux, "POST "+project+"/checkout-key", onProject(accounts.Admin, BySlug), s.api(s.createCheckoutKey))
	s.route(mux, "GET "+project+"/checkout-key/{fp}", onProject(accounts.Read, BySlug), s.api(s.getKey(store.SSHKeyCheckout)))
	s.route(mux, "DELETE "+project+"/checkout-key/{fp}", onProject(accounts.Admin, BySlug), s.api(s.deleteKey(store.SSHKeyCheckout)))
	s.route(mux, "GET "+project+"/ssh-key", onProject(accounts.Read, BySlug), s.api(s.listKeys(store.SSHKeyAdditional)))
	s.route(mux, "POST "+project+"/ssh-key", onProject(accounts.Admin, BySlug), s.api(s.addSSHKey))
	s.route(mux, "DELETE "+project+"/ssh-key/{fp}", onProject(accounts.Admin, BySlug), s.api(s.deleteKey(store.SSHKeyAdditional)))
}

// envVarJSON is CircleCI's EnvironmentVariable.
type envVarJSON struct {
	Name      string     `json:"name"`
	Value     string     `json:"value"`
	CreatedAt *time.Time `json:"created-at"`
}

func envVarView(v vault.Var) envVarJSON {
	return envVarJSON{Name: v.Name, Value: v.Masked, CreatedAt: &v.CreatedAt}
}

// projectScope checks that the route's project exists and returns its
// variables' scope.
func (s *server) projectScope(r *http.Request) (string, store.VarScope, error) {
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return "", "", err
	}
	return slug, store.ProjectScope(slug), nil
}

func (s *server) listEnvVars(w http.ResponseWriter, r *http.Request) error {
	_, scope, err := s.projectScope(r)
	if err != nil {
		return err
	}
	vars, err := s.cfg.Vault.ListVars(r.Context(), scope)
	if err != nil {
		return err
	}
	writeList(w, vars, "", envVarView)
	return nil
}

func (s *server) createEnvVar(w http.ResponseWriter, r *http.Request) error {
	_, scope, err := s.projectScope(r)
	if err != nil {
		return err
	}
	var body struct {
		Name  *string `json:"name"`
		Value *string `json:"value"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Name == nil || body.Value == nil {
		return badRequest("request body: name and value are required")
	}
	v, err := s.cfg.Vault.SetVar(r.Context(), scope, *body.Name, *body.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, envVarView(v))
	return nil
}

func (s *server) getEnvVar(w http.ResponseWriter, r *http.Request) error {
	_, scope, err := s.projectScope(r)
	if err != nil {
		return err
	}
	v, err := s.cfg.Vault.GetVar(r.Context(), scope, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, envVarView(v))
	return nil
}

func (s *server) deleteEnvVar(w http.ResponseWriter, r *http.Request) error {
	_, scope, err := s.projectScope(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Vault.DeleteVar(r.Context(), scope, r.PathValue("name")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Environment variable deleted."})
	return nil
}

// contextJSON is CircleCI's Context.
type contextJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func contextView(c store.Context) contextJSON {
	return contextJSON{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt}
}

// orgID is the organization id CircleCI's shapes show for an owner slug
// (projectView uses the same).
func orgID(owner string) string {
	return ids.Org(owner)
}

// ownerSlug resolves an owner given by slug or by id (the id of an
// organization with a followed project).
func (s *server) ownerSlug(r *http.Request, slug, id string) (string, error) {
	switch {
	case slug != "" && id != "":
		return "", badRequest("give the owner's slug or its id, not both")
	case slug != "":
		return slug, nil
	case id == "":
		return "", badRequest("the owner is required: owner-slug (e.g. local/acme) or owner-id")
	}
	o, err := s.orgByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return "", badRequest("owner id %s: no followed project belongs to that organization", id)
	}
	return o, err
}

func (s *server) createContext(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name  string `json:"name"`
		Owner struct {
			ID   string `json:"id"`
			Slug string `json:"slug"`
			Type string `json:"type"`
		} `json:"owner"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Owner.Type != "" && body.Owner.Type != "organization" {
		return badRequest("owner.type %q: only organization owners are supported", body.Owner.Type)
	}
	owner, err := s.ownerSlug(r, body.Owner.Slug, body.Owner.ID)
	if err != nil {
		return err
	}
	if err := s.requireOn(r.Context(), owner, accounts.Admin); err != nil {
		return err
	}
	c, err := s.cfg.Vault.CreateContext(r.Context(), owner, body.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contextView(c))
	return nil
}

func (s *server) listContexts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if t := q.Get("owner-type"); t != "" && t != "organization" {
		return badRequest("owner-type %q: only organization owners are supported", t)
	}
	owner, err := s.ownerSlug(r, q.Get("owner-slug"), q.Get("owner-id"))
	if err != nil {
		return err
	}
	if err := s.requireOn(r.Context(), owner, accounts.Read); err != nil {
		return err
	}
	cs, err := s.st.ListContexts(r.Context(), owner)
	if err != nil {
		return err
	}
	writeList(w, cs, "", contextView)
	return nil
}

func (s *server) getContext(w http.ResponseWriter, r *http.Request) error {
	c, err := s.st.GetContext(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contextView(c))
	return nil
}

func (s *server) deleteContext(w http.ResponseWriter, r *http.Request) error {
	if err := s.st.DeleteContext(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Context deleted."})
	return nil
}

// contextVarJSON is CircleCI's context environment variable (no value).
type contextVarJSON struct {
	Variable  string    `json:"variable"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ContextID string    `json:"context_id"`
}

func (s *server) putContextVar(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.st.GetContext(r.Context(), id); err != nil {
		return err
	}
	var body struct {
		Value *string `json:"value"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Value == nil {
		return badRequest("request body: value is required")
	}
	v, err := s.cfg.Vault.SetVar(r.Context(), store.ContextScope(id), r.PathValue("name"), *body.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contextVarJSON{Variable: v.Name, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, ContextID: id})
	return nil
}

func (s *server) listContextVars(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.st.GetContext(r.Context(), id); err != nil {
		return err
	}
	vars, err := s.st.ListVars(r.Context(), store.ContextScope(id))
	if err != nil {
		return err
	}
	writeList(w, vars, "", func(v store.SecretVar) contextVarJSON {
		return contextVarJSON{Variable: v.Name, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, ContextID: id}
	})
	return nil
}

func (s *server) deleteContextVar(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.st.GetContext(r.Context(), id); err != nil {
		return err
	}
	if err := s.cfg.Vault.DeleteVar(r.Context(), store.ContextScope(id), r.PathValue("name")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Environment variable deleted."})
	return nil
}

// restrictionJSON is CircleCI's context restriction.
type restrictionJSON struct {
	ID        string `json:"id"`
	ContextID string `json:"context_id"`
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	Type      string `json:"restriction_type"`
	Value     string `json:"restriction_value"`
}

// restrictionCreatedJSON is CircleCI's restriction_created: a restriction
// without its context_id.
type restrictionCreatedJSON struct {
	ID        string `json:"id"`
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	Type      string `json:"restriction_type"`
	Value     string `json:"restriction_value"`
}

func restrictionCreatedView(r restrictionJSON) restrictionCreatedJSON {
	return restrictionCreatedJSON{ID: r.ID, ProjectID: r.ProjectID, Name: r.Name, Type: r.Type, Value: r.Value}
}

func restrictionView(contextID string, r store.Restriction) restrictionJSON {
	id := projectID(r.ProjectSlug)
	_, _, repo := splitSlug(r.ProjectSlug)
	return restrictionJSON{ID: r.ID, ContextID: contextID, ProjectID: id, Name: repo, Type: "project", Value: id}
}

func (s *server) listRestrictions(w http.ResponseWriter, r *http.Request) error {
	c, err := s.st.GetContext(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeList(w, c.Restrictions, "", func(rs store.Restriction) restrictionJSON { return restrictionView(c.ID, rs) })
	return nil
}

func (s *server) createRestriction(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Type  string `json:"restriction_type"`
		Value string `json:"restriction_value"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Type != "project" {
		return badRequest("restriction_type %q: only project restrictions are supported", body.Type)
	}
	ps, err := s.st.ListProjects(r.Context())
	if err != nil {
		return err
	}
	slug := ""
	for _, p := range ps {
		if projectID(p.Slug) == body.Value {
			slug = p.Slug
		}
	}
	if slug == "" {
		return badRequest("restriction_value %q: no followed project has that id", body.Value)
	}
	rs, err := s.cfg.Vault.Restrict(r.Context(), r.PathValue("id"), slug)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, restrictionCreatedView(restrictionView(r.PathValue("id"), rs)))
	return nil
}

func (s *server) deleteRestriction(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Vault.Unrestrict(r.Context(), r.PathValue("id"), r.PathValue("rid")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Context restriction deleted."})
	return nil
}

// keyJSON is CircleCI's CheckoutKey; additional keys add md5 and hostname.
type keyJSON struct {
	PublicKey   string    `json:"public-key"`
	Type        string    `json:"type,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	MD5         string    `json:"md5,omitempty"`
	Hostname    *string   `json:"hostname,omitempty"`
	Preferred   *bool     `json:"preferred,omitempty"`
	CreatedAt   time.Time `json:"created-at"`
}

// keyView shows a key; digest picks the checkout key's fingerprint
// ("md5", CircleCI's default, or "sha256").
func keyView(k store.SSHKey, digest string) keyJSON {
	v := keyJSON{PublicKey: k.PublicKey, Fingerprint: k.Fingerprint, CreatedAt: k.CreatedAt}
	if k.Kind == store.SSHKeyCheckout {
		v.Type = k.Type
		v.Preferred = &k.Preferred
		if digest != "sha256" {
			v.Fingerprint = k.MD5
		}
		return v
	}
	v.MD5, v.Hostname = k.MD5, &k.Hostname
	return v
}

func digestOf(r *http.Request) (string, error) {
	switch d := r.URL.Query().Get("digest"); d {
	case "", "md5", "sha256":
		return d, nil
	default:
		return "", badRequest("digest %q: want md5 or sha256", d)
	}
}

func (s *server) listKeys(kind string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		slug, _, err := s.projectScope(r)
		if err != nil {
			return err
		}
		digest, err := digestOf(r)
		if err != nil {
			return err
		}
		keys, err := s.cfg.Vault.ListKeys(r.Context(), slug, kind)
		if err != nil {
			return err
		}
		writeList(w, keys, "", func(k store.SSHKey) keyJSON { return keyView(k, digest) })
		return nil
	}
}

func (s *server) getKey(kind string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		slug, _, err := s.projectScope(r)
		if err != nil {
			return err
		}
		digest, err := digestOf(r)
		if err != nil {
			return err
		}
		k, err := s.cfg.Vault.GetKey(r.Context(), slug, kind, r.PathValue("fp"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, keyView(k, digest))
		return nil
	}
}

func (s *server) deleteKey(kind string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		slug, _, err := s.projectScope(r)
		if err != nil {
			return err
		}
		if err := s.cfg.Vault.DeleteKey(r.Context(), slug, kind, r.PathValue("fp")); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, message{Message: "Key deleted."})
		return nil
	}
}

func (s *server) createCheckoutKey(w http.ResponseWriter, r *http.Request) error {
	slug, _, err := s.projectScope(r)
	if err != nil {
		return err
	}
	var body struct {
		Type string `json:"type"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	k, err := s.cfg.Vault.CreateCheckoutKey(r.Context(), slug, body.Type)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, keyView(k, "md5"))
	return nil
}

func (s *server) addSSHKey(w http.ResponseWriter, r *http.Request) error {
	slug, _, err := s.projectScope(r)
	if err != nil {
		return err
	}
	var body struct {
		Hostname   string `json:"hostname"`
		PrivateKey string `json:"private_key"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if strings.TrimSpace(body.PrivateKey) == "" {
		return badRequest("request body: private_key is required")
	}
	k, err := s.cfg.Vault.AddSSHKey(r.Context(), slug, body.Hostname, body.PrivateKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, keyView(k, ""))
	return nil
}
