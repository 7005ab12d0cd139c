package api_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// The contract test: every response an API test receives through env.do is
// validated against Orbit's own document (openapi.json, always) and against
// CircleCI's (when the reference material is present: ORBIT_REFERENCE_DIR;
// TestContractCircleCIDocument says when it is not, and fails in CI), for
// the operation of the route that answered. A failure names the operation,
// the status, the field and the body. Where CircleCI's real service differs
// from its own document, Orbit follows the service: contractExceptions,
// the one list of such differences, each with its reason.

// contractException excuses, on one operation of CircleCI's document (Op
// in the document's spelling, or "*" for every operation), the schema
// errors at Field (a JSON pointer into the body; * matches one segment: an
// array index, a property), or
// an undocumented status ("status 409").
type contractException struct {
	Op, Field, Reason string
}

// contractExceptions: where Orbit follows CircleCI's service rather than
// its document, or differs deliberately (docs/API.md lists the latter).
var contractExceptions = []contractException{
	{Op: "*", Field: "x-nullable",
		Reason: "the document marks nullable fields with Swagger 2's x-nullable, which OpenAPI 3 ignores; the service answers null there (avatar_url, revision, ...)"},
	{Op: "*", Field: "/next_page_token",
		Reason: "CircleCI's service answers next_page_token null on the last page of every list, though some list schemas are not nullable"},
	{Op: "*", Field: "status 400",
		Reason: "CircleCI's service answers a bad body, query or parameter with 400 {message} on every operation; the document lists 400 on few"},
	{Op: "*", Field: "status 401",
		Reason: "CircleCI's service answers any operation without valid credentials 401 {message}; its newer operations' documents omit it"},
	{Op: "*", Field: "status 403",
		Reason: "a caller who may see but not do gets 403 {message} on every operation (the access rules, access.go); features that are off answer 403 too (docs/API-OFF.md)"},
	{Op: "*", Field: "status 404",
		Reason: "what the caller may not see, or what does not exist, is 404 {message} on every operation, as CircleCI's service hides existence"},
	{Op: "*", Field: "/error",
		Reason: "the documents of CircleCI's newer operations (policy, OIDC claims) describe errors as {error}; Orbit answers every error as {message}, like the rest of the API"},
	{Op: "POST /context", Field: "status 409",
		Reason: "Orbit refuses a second context of the same name in an organization with 409 (CircleCI's document lists no conflict status)"},
	{Op: "GET /project/{project-slug}/job/{job-number}", Field: "/duration",
		Reason: "CircleCI's service answers duration null while a job has not finished"},
	{Op: "GET /project/{project-slug}/job/{job-number}", Field: "/stopped_at",
		Reason: "CircleCI's service answers stopped_at null while a job has not finished"},
	{Op: "GET /workflow/{id}", Field: "/stopped_at",
		Reason: "CircleCI's service answers stopped_at null while a workflow runs"},
	{Op: "GET /pipeline/{pipeline-id}/workflow", Field: "/items/*/stopped_at",
		Reason: "CircleCI's service answers stopped_at null while a workflow runs"},
	{Op: "GET /workflow/{id}/job", Field: "/items/*/stopped_at",
		Reason: "CircleCI's service answers stopped_at null on jobs that have not finished"},
	{Op: "GET /workflow/{id}/job", Field: "/items/*/started_at",
		Reason: "CircleCI's service answers started_at null on jobs that have not started"},
	{Op: "GET /project/{project-slug}", Field: "/vcs_info/provider",
		Reason: "Orbit's local-git projects have the provider Local, outside CircleCI's enum (docs/API.md)"},
	{Op: "PUT /context/{context_id}/environment-variable/{env_var_name}", Field: "/*",
		Reason: "the document's update_env_var puts additionalProperties: false beside its anyOf, which forbids every property; the service answers the variable (variable, created_at, updated_at, context_id)"},
}

// contract validates responses of one env.
type contract struct {
	h      *api.Handler
	probe  *http.ServeMux
	circle *openapi3.T

	once  sync.Once
	orbit *openapi3.T
	err   error
}

func newContract(t *testing.T, h *api.Handler) *contract {
	t.Helper()
	c := &contract{h: h, probe: http.NewServeMux(), circle: circleDocIfSet(t)}
	for _, r := range h.Routes() {
		if _, ok := apiPattern(r.Pattern); ok {
			c.probe.Handle(r.Pattern, http.NotFoundHandler())
		}
	}
	return c
}

// apiPattern is a pattern's normalised operation ("GET /project/{}/{}/{}/pipeline"),
// if it is an API route.
func apiPattern(pattern string) (string, bool) {
	method, path, ok := normalRoute(pattern)
	return method + " " + path, ok
}

// circleDocIfSet is CircleCI's document when ORBIT_REFERENCE_DIR is set,
// else nil (no test is skipped for want of it; TestContractCircleCIDocument
// reports its absence).
func circleDocIfSet(t *testing.T) *openapi3.T {
	if os.Getenv(testenv.ReferenceEnv) == "" {
		return nil
	}
	return circleDoc(t)
}

// check validates one response.
func (c *contract) check(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	probe := req.Clone(req.Context())
	if strings.HasPrefix(probe.URL.Path, "/api/v2/project/") {
		probe.URL.RawPath = "" // as the middleware does (unescapeSlug)
	}
	_, pattern := c.probe.Handler(probe)
	op, ok := apiPattern(pattern)
	if !ok || pattern == "" {
		return // not an API route (UI, runner, blobs) or no route (404/405 from the catch-all)
	}
	if lits, ok := dispatchers[pattern]; ok {
		seg := probe.URL.Path[strings.LastIndex(probe.URL.Path, "/")+1:]
		for _, l := range lits {
			if l == seg {
				op = op[:strings.LastIndex(op, "{}")] + l
			}
		}
	}
	c.once.Do(func() {
		c.orbit, c.err = openapi3.NewLoader().LoadFromData(c.h.OpenAPI())
	})
	require.NoError(t, c.err, "load Orbit's openapi.json")
	if err := validate(c.orbit, op, probe, rec); err != nil {
		t.Errorf("contract: %s answered %d, which Orbit's openapi.json does not allow: %v\nbody: %.600s", op, rec.Code, err, rec.Body.String())
	}
	if rec.Code < http.StatusBadRequest {
		if err := validateRequestBody(c.orbit, op, req); err != nil {
			t.Errorf("contract: %s took a request body that Orbit's openapi.json refuses: %v", op, err)
		}
	}
	if c.circle == nil {
		return
	}
	if err := validate(c.circle, op, probe, rec); err != nil {
		if rest := unexcused(op, rec.Code, err); len(rest) > 0 {
			t.Errorf("contract: %s answered %d, which CircleCI's document does not allow: %v\nbody: %.600s", op, rec.Code, errors.Join(rest...), rec.Body.String())
		}
	}
}

// errNotInDoc: the document has no such operation (an Orbit extension, in
// CircleCI's document).
var errNotInDoc = errors.New("operation not in the document")

// validate checks rec against op's operation in doc; an operation the
// document lacks passes.
func validate(doc *openapi3.T, op string, req *http.Request, rec *httptest.ResponseRecorder) error {
	method, _, _ := strings.Cut(op, " ")
	var path string
	for _, o := range docOps(doc) {
		if o.Method+" "+normalDoc(o.Path) == op {
			path = o.Path
		}
	}
	if path == "" {
		return nil
	}
	item := doc.Paths.Find(path)
	params, ok := pathParams(path, strings.TrimPrefix(req.URL.EscapedPath(), "/api/v2"))
	if !ok {
		return errNotInDoc
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params,
			Route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)},
		},
		Status:  rec.Code,
		Header:  rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if ok := in.RequestValidationInput.Route.Operation.Responses.Status(rec.Code); ok != nil && ok.Value.Content.Get("*/*") != nil {
		in.Options.ExcludeResponseBody = true // a file (an artifact): any type, any content
	}
	return openapi3filter.ValidateResponse(req.Context(), in)
}

// validateRequestBody checks the body of a request the handler accepted
// against op's requestBody in doc (Orbit's document describes what its
// handlers decode, opDoc.Request).
func validateRequestBody(doc *openapi3.T, op string, req *http.Request) error {
	method, _, _ := strings.Cut(op, " ")
	for _, o := range docOps(doc) {
		if o.Method+" "+normalDoc(o.Path) != op {
			continue
		}
		operation := doc.Paths.Find(o.Path).GetOperation(method)
		if operation.RequestBody == nil || req.Body == nil {
			return nil
		}
		in := &openapi3filter.RequestValidationInput{Request: req, Options: &openapi3filter.Options{MultiError: true}}
		return openapi3filter.ValidateRequestBody(req.Context(), in, operation.RequestBody.Value)
	}
	return nil
}

// pathParams matches a request path (escaped: an escaped slash stays in its
// segment, as ServeMux sees it) to a document path template: a
// {project-slug} takes three segments, an {org-slug} two.
func pathParams(template, path string) (map[string]string, bool) {
	tpl, segs := strings.Split(template, "/"), strings.Split(path, "/")
	params := map[string]string{}
	for i, t := range tpl {
		if len(segs) == 0 {
			return nil, false
		}
		if !strings.HasPrefix(t, "{") {
			if t != segs[0] {
				return nil, false
			}
			segs = segs[1:]
			continue
		}
		n := 1
		switch {
		case t == "{project-slug}":
			n = 3
		case t == "{org-slug}":
			n = 2
		case i == len(tpl)-1:
			n = len(segs) // a last parameter may be a {path...}
		}
		if len(segs) < n {
			return nil, false
		}
		v, err := url.PathUnescape(strings.Join(segs[:n], "/"))
		if err != nil {
			return nil, false
		}
		params[strings.Trim(t, "{}")] = v
		segs = segs[n:]
	}
	return params, len(segs) == 0
}

// unexcused drops the errors contractExceptions excuses.
func unexcused(op string, status int, err error) []error {
	var all []error
	var multi openapi3.MultiError
	var resp *openapi3filter.ResponseError
	switch {
	case errors.As(err, &resp) && errors.As(resp.Err, &multi):
		all = multi
	case errors.As(err, &multi):
		all = multi
	default:
		all = []error{err}
	}
	var rest []error
	for _, e := range all {
		if !excused(op, status, e) {
			rest = append(rest, e)
		}
	}
	return rest
}

func excused(op string, status int, err error) bool {
	var se *openapi3.SchemaError
	var re *openapi3filter.ResponseError
	var field string
	switch {
	case errors.As(err, &se) && se.Value == nil && se.Schema != nil && se.Schema.Extensions["x-nullable"] == true:
		field = "x-nullable"
	case errors.As(err, &se):
		field = "/" + strings.Join(se.JSONPointer(), "/")
		var prop string
		if _, err := fmt.Sscanf(se.Reason, "property %q is unsupported", &prop); err == nil {
			field = strings.TrimSuffix(field, "/") + "/" + prop // the property refused
		}
	case errors.As(err, &re) && re.Reason == "status is not supported":
		field = fmt.Sprintf("status %d", status)
	default:
		return false
	}
	for _, x := range contractExceptions {
		if m, _ := path.Match(x.Field, field); m && (x.Op == "*" || matchOp(x.Op, op)) {
			return true
		}
	}
	return false
}

// matchOp compares an exception's operation, in the document's spelling,
// with a normalised one.
func matchOp(docSpelling, op string) bool {
	method, path, _ := strings.Cut(docSpelling, " ")
	return method+" "+normalDoc(path) == op
}

// TestContractCircleCIDocument says whether the contract test checks
// responses against CircleCI's document too (it skips when the document
// is not beside the clone; in CI it fails then), and that each exception
// names an operation of that document.
func TestContractCircleCIDocument(t *testing.T) {
	doc := circleDoc(t)
	ops := map[string]bool{}
	for _, o := range docOps(doc) {
		ops[o.String()] = true
	}
	for _, x := range contractExceptions {
		require.True(t, x.Op == "*" || ops[x.Op], "contractExceptions names %q, not an operation of %s", x.Op, filepath.Base(circleDocFile))
		require.NotEmpty(t, x.Reason, x.Op)
	}
}

// TestContractCatchesDrift: the check fails a response its document does
// not allow, and lets through what contractExceptions excuses, no more.
func TestContractCatchesDrift(t *testing.T) {
	e := newEnv(t)
	orbit, err := openapi3.NewLoader().LoadFromData(e.h.OpenAPI())
	require.NoError(t, err)
	respond := func(code int, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json; charset=utf-8")
		rec.WriteHeader(code)
		rec.WriteString(body)
		return rec
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v2/pipeline/5034460f-c7c4-4c43-9457-de07e2029e7b", nil)
	const op = "GET /pipeline/{}"
	assert.Error(t, validate(orbit, op, req, respond(http.StatusOK, `{"id": 5}`)), "a number where the view has a string")
	assert.Error(t, validate(orbit, op, req, respond(http.StatusTeapot, `{"message": 5}`)), "an error body that is not {message}")
	assert.NoError(t, validate(orbit, op, req, respond(http.StatusNotFound, `{"message": "pipeline x: not found"}`)))

	circle := circleDocIfSet(t)
	if circle == nil {
		return // TestContractCircleCIDocument reports why
	}
	list := httptest.NewRequest(http.MethodGet, "/api/v2/project/gh/acme/api/envvar", nil)
	err = validate(circle, "GET /project/{}/{}/{}/envvar", list, respond(http.StatusOK, `{"items": [], "next_page_token": null}`))
	require.Error(t, err, "CircleCI's schema says next_page_token is a string")
	assert.Empty(t, unexcused("GET /project/{}/{}/{}/envvar", http.StatusOK, err), "the service's null is excused")
	err = validate(circle, "GET /project/{}/{}/{}/envvar", list, respond(http.StatusOK, `{"items": [{"name": 1}], "next_page_token": null}`))
	assert.NotEmpty(t, unexcused("GET /project/{}/{}/{}/envvar", http.StatusOK, err), "a wrong item is not")
}
