package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/orbimport"
)

// POST /api/v2/compile-config-with-defaults is what the official CLI's
// `config validate` and `config process` call (and how it finds out that a
// server has the route: an empty POST must answer something other than
// 404). The body is
//
//	{"config_yaml": "...", "options": {"owner_id", "pipeline_values": {"pipeline.git.branch": …},
//	  "pipeline_parameters": {…}}}
//
// and the answer, always 200 for a config however bad,
//
//	{"valid", "source-yaml", "output-yaml", "errors": [{"message"}], "warnings": [{"message"}]}
//
// warnings (what CircleCI tolerates) are Orbit's addition: the CLI fails on
// any entry in errors, so they are not there. Orbs resolve from the
// installation's orb registry, as for pipelines.

// compileRequest is CircleCI's compile request.
type compileRequest struct {
	ConfigYAML string         `json:"config_yaml"`
	Options    compileOptions `json:"options"`
}

// compileOptions are its options. OwnerID names the organization whose
// private orbs may be used; Orbit's registry is the installation's, so it
// is accepted and not needed. Next asks CircleCI's next compiler; Orbit has
// one.
//
// With OwnerID, the organization's URL orb allow-list applies.
type compileOptions struct {
	OwnerID            string         `json:"owner_id"`
	PipelineValues     map[string]any `json:"pipeline_values"`
	PipelineParameters map[string]any `json:"pipeline_parameters"`
	Next               bool           `json:"next"`
}

// compileResponse is CircleCI's answer.
type compileResponse struct {
	Valid      bool             `json:"valid"`
	SourceYAML string           `json:"source-yaml"`
	OutputYAML string           `json:"output-yaml"`
	Errors     []compileMessage `json:"errors"`
	Warnings   []compileMessage `json:"warnings,omitempty"`
}

type compileMessage struct {
	Message string `json:"message"`
}

func (s *server) routeCompile(mux *http.ServeMux) {
	s.route(mux, "POST /api/v2/compile-config-with-defaults", signedIn, s.api(s.compileConfig))
}

func (s *server) compileConfig(w http.ResponseWriter, r *http.Request) error {
	var req compileRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.ConfigYAML == "" {
		return badRequest("config_yaml is required")
	}
	opts, err := compileOptionsFor(req.Options, "")
	if err != nil {
		return err
	}
	if id := req.Options.OwnerID; id != "" {
		// The organization's URL orb allow-list applies, as in its
		// pipelines; an owner Orbit does not know allows none.
		if owner, err := s.ownerSlug(r, "", id); err == nil && s.requireOn(r.Context(), owner, accounts.Read) == nil {
			if opts.URLOrbs, err = (orbimport.URLOrbSource{Lists: s.st}).ForOwner(r.Context(), owner); err != nil {
				return err
			}
		}
	}
	writeJSON(w, http.StatusOK, compileConfig([]byte(req.ConfigYAML), opts))
	return nil
}

// compileConfig validates and processes src as CircleCI's service does.
func compileConfig(src []byte, opts config.Options) compileResponse {
	resp := compileResponse{SourceYAML: string(src), Errors: []compileMessage{}}
	out, err := config.Process(src, opts)
	if err != nil {
		resp.Errors = configMessages(err)
		return resp
	}
	resp.Valid, resp.OutputYAML = true, string(out)
	if plan, err := config.Compile(src, opts); err == nil {
		for _, w := range plan.Warnings {
			resp.Warnings = append(resp.Warnings, compileMessage{Message: w.Warning()})
		}
	}
	return resp
}

// configMessages lists a compile error's problems, one message each.
func configMessages(err error) []compileMessage {
	var list config.ErrorList
	if !errors.As(err, &list) {
		return []compileMessage{{Message: err.Error()}}
	}
	out := make([]compileMessage, 0, len(list))
	for _, e := range list {
		out = append(out, compileMessage{Message: e.Error()})
	}
	return out
}

// compileOptionsFor turns the request's pipeline values (CircleCI's dotted
// names, as the CLI fabricates them from the local git checkout) and
// parameters into compile options.
func compileOptionsFor(o compileOptions, orbDir string) (config.Options, error) {
	opts := config.Options{Filename: "config.yml", OrbDir: orbDir, PipelineParameters: map[string]any{}}
	for k, v := range o.PipelineParameters {
		opts.PipelineParameters[k] = jsonValue(v)
	}
	str := func(name string) string {
		if v, ok := o.PipelineValues[name]; ok && v != nil {
			return fmt.Sprint(jsonValue(v))
		}
		return ""
	}
	opts.Branch, opts.Tag, opts.Revision = str("pipeline.git.branch"), str("pipeline.git.tag"), str("pipeline.git.revision")
	if opts.Branch == "" && opts.Tag == "" {
		opts.Branch = "main"
	}
	pv := &opts.PipelineValues
	pv.ID, pv.ProjectGitURL, pv.ProjectType = str("pipeline.id"), str("pipeline.project.git_url"), str("pipeline.project.type")
	pv.GitBaseRevision, pv.TriggerSource = str("pipeline.git.base_revision"), str("pipeline.trigger_source")
	if n := str("pipeline.number"); n != "" {
		num, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return opts, badRequest("options.pipeline_values: pipeline.number %q is not an integer", n)
		}
		pv.Number = num
	}
	return opts, nil
}

// jsonValue turns a decoded json.Number into an int64 (or float64), as
// config parameters expect.
func jsonValue(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return n.String()
}
