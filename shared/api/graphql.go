package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
)

// POST /graphql-unstable answers the GraphQL operations the official
// `circleci` CLI (v0.1) still sends that way, and no others: it is not a
// GraphQL server. An operation is recognised by its top-level fields and
// read from its variables; each answer carries every field the CLI's
// query selects. As CircleCI's endpoint does, it answers HTTP 200 with
// {"data": …, "errors": [{"message"}]}, whatever went wrong.
//
//	organization(id | name, vcsType)       {id, name, vcsType, contexts {edges {node {id name createdAt}}}}
//	context(id)                            {resources [{variable createdAt updatedAt}]}
//	createContext(input {ownerId, contextName})        {error, context}
//	deleteContext(input {contextId})                    {clientMutationId}
//	storeEnvironmentVariable(input {contextId, variable, value})  {error}
//	removeEnvironmentVariable(input {contextId, variable})        {context {id}}
//	buildConfig(configYaml, pipelineValues)  orbConfig(orbYaml)   {valid errors sourceYaml outputYaml}
//	orbVersion(orbVersionRef)              an orb release of the installation's registry (graphql_orbs.go)
//
// The caller is signed in (Authorization: <token>, or Circle-Token); each
// operation checks what it touches as the REST route for it does, and the
// context mutations go through those routes' handlers, so they are audited
// the same way.

// gqlRequest is a GraphQL request.
type gqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

type gqlError struct {
	Message string `json:"message"`
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []gqlError     `json:"errors,omitempty"`
}

// gqlResolver answers one top-level field.
type gqlResolver func(r *http.Request, vars gqlVars) (any, error)

func (s *server) routeGraphQL(mux *http.ServeMux) {
	s.route(mux, "POST /graphql-unstable", signedIn, http.HandlerFunc(s.graphql))
}

func (s *server) graphql(w http.ResponseWriter, r *http.Request) {
	resp := gqlResponse{Data: map[string]any{}}
	var req gqlRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		resp.Errors = append(resp.Errors, gqlError{Message: "request body is not a GraphQL request: " + err.Error()})
		writeJSON(w, http.StatusOK, resp)
		return
	}
	fields := topLevelFields(req.Query)
	if len(fields) == 0 {
		resp.Errors = append(resp.Errors, gqlError{Message: "query selects no field"})
	}
	resolvers := s.gqlResolvers()
	for _, f := range fields {
		resolve, ok := resolvers[f]
		if !ok {
			resp.Errors = append(resp.Errors, gqlError{Message: fmt.Sprintf("Cannot query field %q: Orbit answers only the operations the circleci CLI uses", f)})
			resp.Data[f] = nil
			continue
		}
		v, err := resolve(r, gqlVars(req.Variables))
		if err != nil {
			resp.Errors = append(resp.Errors, gqlError{Message: s.gqlMessage(r, err)})
		}
		resp.Data[f] = v
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) gqlResolvers() map[string]gqlResolver {
	return map[string]gqlResolver{
		"organization":              s.gqlOrganization,
		"context":                   s.gqlContext,
		"createContext":             s.gqlCreateContext,
		"deleteContext":             s.gqlDeleteContext,
		"storeEnvironmentVariable":  s.gqlStoreVar,
		"removeEnvironmentVariable": s.gqlRemoveVar,
		"buildConfig":               s.gqlBuildConfig,
		"orbConfig":                 s.gqlOrbConfig,
		"orbVersion":                s.gqlOrbVersion,
		"me":                        s.gqlMe,
	}
}

// topLevelFields lists the fields the operation selects at its top level,
// in order: the names at brace depth 1 outside argument lists.
func topLevelFields(q string) []string {
	var out []string
	braces, parens := 0, 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '"':
			for i++; i < len(q) && q[i] != '"'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		case c == '{':
			braces++
		case c == '}':
			braces--
		case c == '(':
			parens++
		case c == ')':
			parens--
		case braces == 1 && parens == 0 && (c == '_' || unicode.IsLetter(rune(c))):
			j := i
			for j < len(q) && (q[j] == '_' || unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j]))) {
				j++
			}
			name := q[i:j]
			// `alias: field` selects field.
			k := j
			for k < len(q) && q[k] == ' ' {
				k++
			}
			if k < len(q) && q[k] == ':' {
				i = k
				continue
			}
			out = append(out, name)
			i = j - 1
		}
	}
	return out
}

// gqlVars are an operation's variables.
type gqlVars map[string]any

// str is a string variable; input.x reads a field of an input object.
func (v gqlVars) str(names ...string) string {
	for _, n := range names {
		var cur any = map[string]any(v)
		for _, part := range strings.Split(n, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[part]
		}
		if s, ok := cur.(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// vcsSlugs are the slug prefixes of CircleCI's VCSType names.
var vcsSlugs = map[string]string{"GITHUB": "gh", "BITBUCKET": "bb", "CIRCLECI": "circleci"}

// orgOwner resolves the organization an operation names: by id (an
// organization with a followed project) or by name and vcsType.
func (s *server) orgOwner(r *http.Request, vars gqlVars) (string, error) {
	if id := vars.str("orgId", "id", "input.ownerId", "owner"); id != "" {
		return s.ownerSlug(r, "", id)
	}
	name := vars.str("orgName", "name")
	if name == "" {
		return "", badRequest("organization: give its id, or its name and vcsType")
	}
	vcs := strings.ToUpper(vars.str("vcsType"))
	prefix, ok := vcsSlugs[vcs]
	if !ok {
		prefix = strings.ToLower(vcs)
	}
	if prefix == "" {
		return "", badRequest("organization %s: vcsType is required", name)
	}
	return prefix + "/" + name, nil
}

func (s *server) gqlOrganization(r *http.Request, vars gqlVars) (any, error) {
	owner, err := s.orgOwner(r, vars)
	if err != nil {
		return nil, err
	}
	if err := s.requireOn(r.Context(), owner, accounts.Read); err != nil {
		return nil, err
	}
	vcs, name, _ := strings.Cut(owner, "/")
	for k, v := range vcsSlugs {
		if v == vcs {
			vcs = k
		}
	}
	org := map[string]any{"id": orgID(owner), "name": name, "vcsType": strings.ToUpper(vcs)}
	edges := []any{}
	if s.cfg.Vault != nil {
		cs, err := s.st.ListContexts(r.Context(), owner)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			edges = append(edges, map[string]any{"node": map[string]any{"id": c.ID, "name": c.Name, "createdAt": c.CreatedAt}})
		}
	}
	org["contexts"] = map[string]any{"edges": edges}
	return org, nil
}

// errNoVault answers the context operations when contexts are not kept.
var errNoVault = errors.New("contexts are not enabled on this installation")

// contextFor loads the context an operation names and checks the caller's
// level on its organization, as the REST routes' ByContext rule does.
func (s *server) contextFor(r *http.Request, id string, level accounts.Level) error {
	if s.cfg.Vault == nil {
		return errNoVault
	}
	if id == "" {
		return badRequest("the context id is required")
	}
	c, err := s.st.GetContext(r.Context(), id)
	if err != nil {
		return err
	}
	return s.requireOn(r.Context(), c.Owner, level)
}

func (s *server) gqlContext(r *http.Request, vars gqlVars) (any, error) {
	id := vars.str("id", "contextId")
	if err := s.contextFor(r, id, accounts.Read); err != nil {
		return nil, err
	}
	var list struct {
		Items []contextVarJSON `json:"items"`
	}
	if err := s.internal(r, s.listContextVars, nil, map[string]string{"id": id}, &list); err != nil {
		return nil, err
	}
	res := make([]any, 0, len(list.Items))
	for _, v := range list.Items {
		res = append(res, map[string]any{"variable": v.Variable, "createdAt": v.CreatedAt, "updatedAt": v.UpdatedAt})
	}
	return map[string]any{"id": id, "resources": res}, nil
}

func (s *server) gqlCreateContext(r *http.Request, vars gqlVars) (any, error) {
	if s.cfg.Vault == nil {
		return nil, errNoVault
	}
	owner, err := s.orgOwner(r, vars)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"name": vars.str("input.contextName"), "owner": map[string]any{"slug": owner}}
	var c contextJSON
	if err := s.internal(r, s.audited(audit.ContextCreate, contextTarget, s.createContext), body, nil, &c); err != nil {
		return map[string]any{"error": map[string]any{"type": s.gqlMessage(r, err)}, "context": nil}, nil
	}
	// error is an object with an empty type, not null: the CLI reads
	// error.type through a pointer it does not check.
	return map[string]any{"error": map[string]any{"type": ""}, "context": map[string]any{"id": c.ID, "name": c.Name, "createdAt": c.CreatedAt}}, nil
}

func (s *server) gqlDeleteContext(r *http.Request, vars gqlVars) (any, error) {
	id := vars.str("contextId", "input.contextId")
	if err := s.contextFor(r, id, accounts.Admin); err != nil {
		return nil, err
	}
	if err := s.internal(r, s.audited(audit.ContextDelete, contextTarget, s.deleteContext), nil, map[string]string{"id": id}, nil); err != nil {
		return nil, err
	}
	return map[string]any{"clientMutationId": nil}, nil
}

// The CLI v0.1 sends the environment variable mutations' input with its Go
// field names (ContextID, Name, Value); the schema's names work too.

func (s *server) gqlStoreVar(r *http.Request, vars gqlVars) (any, error) {
	id, name := vars.str("input.contextId", "input.ContextID"), vars.str("input.variable", "input.Name")
	if err := s.contextFor(r, id, accounts.Admin); err != nil {
		return nil, err
	}
	body := map[string]any{"value": vars.str("input.value", "input.Value")}
	if err := s.internal(r, s.audited(audit.ContextEnvVarStore, contextTarget, s.putContextVar), body,
		map[string]string{"id": id, "name": name}, nil); err != nil {
		return map[string]any{"error": map[string]any{"type": s.gqlMessage(r, err)}}, nil
	}
	return map[string]any{"error": nil}, nil
}

func (s *server) gqlRemoveVar(r *http.Request, vars gqlVars) (any, error) {
	id, name := vars.str("input.contextId", "input.ContextID"), vars.str("input.variable", "input.Name")
	if err := s.contextFor(r, id, accounts.Admin); err != nil {
		return nil, err
	}
	if err := s.internal(r, s.audited(audit.ContextEnvVarDelete, contextTarget, s.deleteContextVar), nil,
		map[string]string{"id": id, "name": name}, nil); err != nil {
		return nil, err
	}
	return map[string]any{"context": map[string]any{"id": id}}, nil
}

// gqlMe is the signed-in user.
func (s *server) gqlMe(r *http.Request, _ gqlVars) (any, error) {
	u, ok := accounts.FromContext(r.Context())
	if !ok {
		return nil, accounts.ErrUnauthenticated
	}
	return map[string]any{"id": u.ID, "name": u.Name, "login": u.Login}, nil
}

// gqlMessage is what the caller learns of an error: a refusal's message,
// or the generic one for a server error (logged in full).
func (s *server) gqlMessage(r *http.Request, err error) string {
	var ie *internalError
	if errors.As(err, &ie) {
		return ie.msg
	}
	_, msg := s.classifyAndLog(r, err)
	return msg
}

// internalError is a handler's refusal seen through internal.
type internalError struct{ msg string }

func (e *internalError) Error() string { return e.msg }

// internal calls a REST handler for the caller of r, with body as its JSON
// body and the path values given, and decodes its answer into out. A
// refusal comes back as an error carrying the handler's message.
func (s *server) internal(r *http.Request, h apiFunc, body any, pathValues map[string]string, out any) error {
	var rd bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&rd).Encode(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, r.URL.String(), &rd)
	if err != nil {
		return err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Content-Type", "application/json")
	for k, v := range pathValues {
		req.SetPathValue(k, v)
	}
	rec := &bufferWriter{header: http.Header{}, status: http.StatusOK}
	if err := h(rec, req); err != nil {
		return err
	}
	if rec.status >= http.StatusBadRequest {
		var m message
		_ = json.Unmarshal(rec.body.Bytes(), &m)
		return &internalError{msg: m.Message}
	}
	if out != nil {
		return json.Unmarshal(rec.body.Bytes(), out)
	}
	return nil
}

// bufferWriter keeps a response in memory.
type bufferWriter struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferWriter) WriteHeader(code int)        { b.status = code }
