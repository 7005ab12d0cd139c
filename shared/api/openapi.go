package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Orbit's own OpenAPI document, served at GET /api/v2/openapi.json without
// credentials, as CircleCI serves its own (the official CLI reads it to
// learn which routes a server has). It is generated, not written: every
// operation comes from a registered route (Routes()), and its responses
// from the view type the route's handler encodes (operationDocs), turned
// into a JSON schema by reflection over the type's json tags. A route
// without an entry in operationDocs is still listed, with an untyped
// response, and the test that checks the document against the router fails
// on it, so the document cannot drift from the handler:
//
//	Routes() ──▶ CircleCI-style path ("/project/{project-slug}/pipeline")
//	operationDocs[pattern] ──▶ status + reflect(view type) ──▶ components/schemas
//
// Paths are relative to the server URL "/api/v2", as in CircleCI's
// document; Orbit's router spells a project slug {vcs}/{org}/{repo} (three
// path segments, or one with %2F), the document {project-slug}.

// opDoc describes one operation of the document.
type opDoc struct {
	// ID is the operationId: CircleCI's where the operation is CircleCI's.
	ID string
	// Tag groups the operation (CircleCI's tags; "Orbit" for extensions).
	Tag string
	// Summary is a line saying what the operation does.
	Summary string
	// Status is the success status; 0 means 200.
	Status int
	// Body is a value of the view type of the success response; nil is an
	// untyped JSON response (or a string when Media is set).
	Body any
	// Media is the success response's media type when it is not JSON:
	// "text/plain", "text/csv", "*/*" for a file.
	Media string
	// Query names the query parameters the operation reads.
	Query []string
	// Paged says the operation is a CircleCI list (page-token query,
	// next_page_token in the body).
	Paged bool
	// Split names the project with three parameters {provider},
	// {organization}, {project}, as CircleCI's newer operations do,
	// instead of {project-slug}.
	Split bool
	// Literal replaces a dispatcher route's last wildcard (one route
	// serving several operations, see artifacts.go).
	Literal string
	// Extension marks an operation CircleCI's API does not have.
	Extension bool
	// Off marks an operation of a feature that is off on Orbit
	// (features_off.go): its one answer is 403 {message}.
	Off bool
	// Request is a value of the type the handler decodes the JSON body
	// into; nil: no body, or one of an unnamed type. Its schema refuses
	// unknown properties, as decodeJSON does, and requires none (the
	// handler says which are missing).
	Request any
}

// openAPIPrefix is the server URL of the document's paths.
const openAPIPrefix = "/api/v2"

var wildcardRE = regexp.MustCompile(`\{([^}.]*)(\.\.\.)?\}`)

// docPath turns a router path into the document's: the prefix dropped, a
// project spelled {project-slug} (or split), a literal in place of a
// dispatcher's last wildcard.
func docPath(path string, d opDoc) string {
	path = strings.TrimPrefix(path, openAPIPrefix)
	if d.Split {
		path = strings.Replace(path, "{vcs}/{org}/{repo}", "{provider}/{organization}/{project}", 1)
	} else {
		path = strings.Replace(path, "{vcs}/{org}/{repo}", "{project-slug}", 1)
	}
	if d.Literal != "" {
		locs := wildcardRE.FindAllStringIndex(path, -1)
		last := locs[len(locs)-1]
		path = path[:last[0]] + d.Literal + path[last[1]:]
	}
	return wildcardRE.ReplaceAllString(path, "{$1}")
}

// openAPIDocument builds the document for the routes registered.
func (s *server) openAPIDocument() ([]byte, error) {
	g := &schemaGen{schemas: map[string]any{}, types: map[string]reflect.Type{}}
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok || !strings.HasPrefix(path, openAPIPrefix+"/") {
			continue
		}
		docs, ok := operationDocs[rt.Pattern]
		if !ok {
			docs = []opDoc{{ID: rt.Pattern, Tag: "Undocumented"}}
		}
		for _, d := range docs {
			p := docPath(path, d)
			if paths[p] == nil {
				paths[p] = map[string]any{}
			}
			paths[p][strings.ToLower(method)] = g.operation(p, rt, d)
		}
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "Orbit API",
			"version": "v2",
			"description": "CircleCI's REST API v2 as Orbit serves it (docs/API.md lists every difference), " +
				"plus Orbit's extensions (x-orbit-extension).",
		},
		"servers": []any{map[string]any{"url": openAPIPrefix}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"api_key_header": map[string]any{"type": "apiKey", "in": "header", "name": "Circle-Token"},
				"api_key_query":  map[string]any{"type": "apiKey", "in": "query", "name": "circle-token"},
				"basic_auth":     map[string]any{"type": "http", "scheme": "basic"},
			},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// operation is one operation object.
func (g *schemaGen) operation(path string, rt Route, d opDoc) map[string]any {
	var params []any
	for _, m := range wildcardRE.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
			"schema": map[string]any{"type": "string"}})
	}
	query := slices.Clone(d.Query)
	if d.Paged {
		query = append(query, "page-token")
	}
	for _, q := range query {
		params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
	}
	code := d.Status
	if code == 0 {
		code = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(code)}
	switch {
	case d.Media == "*/*": // a file, of any type
		ok["content"] = map[string]any{d.Media: map[string]any{"schema": map[string]any{}}}
	case d.Media != "":
		ok["content"] = map[string]any{d.Media: map[string]any{"schema": map[string]any{"type": "string"}}}
	case d.Body != nil:
		ok["content"] = jsonContent(g.schema(reflect.TypeOf(d.Body)))
	default:
		ok["content"] = jsonContent(map[string]any{})
	}
	errResp := map[string]any{"description": "Error response.", "content": jsonContent(g.schema(reflect.TypeOf(message{})))}
	responses := map[string]any{itoa(code): ok, "default": errResp}
	if d.Off {
		responses = map[string]any{"403": map[string]any{"description": "The feature is off on Orbit.",
			"content": jsonContent(g.schema(reflect.TypeOf(message{})))}, "default": errResp}
	}
	op := map[string]any{
		"operationId": d.ID,
		"tags":        []string{d.Tag},
		"summary":     d.Summary,
		"responses":   responses,
	}
	if params != nil {
		op["parameters"] = params
	}
	if d.Request != nil {
		op["requestBody"] = map[string]any{"content": jsonContent(requestSchema(reflect.TypeOf(d.Request)))}
	}
	if rt.Access.Who == Public || rt.Access.Who == Own {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"api_key_header": []any{}}, map[string]any{"api_key_query": []any{}},
			map[string]any{"basic_auth": []any{}}}
	}
	if d.Extension {
		op["x-orbit-extension"] = true
	}
	return op
}

func jsonContent(schema any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// schemaGen turns Go view types into JSON schemas; named struct types
// become components.
type schemaGen struct {
	schemas map[string]any
	types   map[string]reflect.Type
}

// componentName is a view type's schema name: "pipelineJSON" → "Pipeline";
// a name two packages share gets its package's name in front.
func (g *schemaGen) componentName(t reflect.Type) string {
	name := strings.TrimSuffix(strings.TrimSuffix(t.Name(), "JSON"), "View")
	name = strings.ToUpper(name[:1]) + name[1:]
	if seen, ok := g.types[name]; ok && seen != t {
		pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
		name = strings.ToUpper(pkg[:1]) + pkg[1:] + name
	}
	g.types[name] = t
	return name
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage(nil))
)

// opaqueSchema is the schema of the types whose JSON is not their Go
// shape: a time (RFC 3339), raw JSON and interfaces (anything).
func opaqueSchema(t reflect.Type) (map[string]any, bool) {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}, true
	case t == rawType, t.Kind() == reflect.Interface:
		return map[string]any{}, true
	}
	return nil, false
}

// schema is t's schema as encoding/json encodes t.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if s, ok := opaqueSchema(t); ok {
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.schema(t.Elem())
		if _, isRef := inner["$ref"]; isRef {
			return map[string]any{"allOf": []any{inner}, "nullable": true}
		}
		inner["nullable"] = true
		return inner
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		if name == "" || strings.Contains(name, "[") { // anonymous or generic: inline
			return g.object(t)
		}
		name = g.componentName(t)
		if _, done := g.schemas[name]; !done {
			g.schemas[name] = map[string]any{} // a placeholder while recursing
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// object is a struct's schema: its json fields (embedded structs'
// flattened); the fields without omitempty are required.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || len(f.Index) > 1 && !visibleThroughEmbedding(t, f) {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			continue // its fields are visible on their own
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") && !slices.Contains(strings.Split(opts, ","), "omitzero") {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		slices.Sort(required)
		out["required"] = required
	}
	return out
}

// requestSchema is the inline schema of a request body type: as schema,
// but with no required properties, objects closed (additionalProperties
// false) since decodeJSON refuses unknown fields at every depth, and every
// value nullable, since encoding/json takes null for any of them.
func requestSchema(t reflect.Type) map[string]any {
	s := requestSchemaOf(t)
	if len(s) > 0 {
		s["nullable"] = true
	}
	return s
}

func requestSchemaOf(t reflect.Type) map[string]any {
	if s, ok := opaqueSchema(t); ok {
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		return requestSchemaOf(t.Elem())
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": requestSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": requestSchema(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		for _, f := range reflect.VisibleFields(t) {
			if !f.IsExported() || len(f.Index) > 1 && !visibleThroughEmbedding(t, f) {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = requestSchema(f.Type)
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return (&schemaGen{schemas: map[string]any{}, types: map[string]reflect.Type{}}).schema(t) // scalars
}

// visibleThroughEmbedding says whether a promoted field reaches the JSON
// (encoding/json flattens untagged embedded structs only).
func visibleThroughEmbedding(t reflect.Type, f reflect.StructField) bool {
	for i := range len(f.Index) - 1 {
		e := t.FieldByIndex(f.Index[:i+1])
		name, _, _ := strings.Cut(e.Tag.Get("json"), ",")
		if !e.Anonymous || name != "" {
			return false
		}
	}
	return true
}

// serveOpenAPI answers GET /api/v2/openapi.json.
func (s *server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(s.openapi)
}

// DocumentedPatterns lists the route patterns operationDocs documents (for
// the test that checks them against the router).
func DocumentedPatterns() []string {
	out := make([]string, 0, len(operationDocs))
	for p := range operationDocs {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
