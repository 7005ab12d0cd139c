package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"

	"github.com/orbit-ci/orbit/shared/ids"

	"github.com/orbit-ci/orbit/shared/config"
)

// The configuration operations of /graphql-unstable (graphql.go): the
// official CLI validates orbs with orbConfig and reads orb releases with
// orbVersion; buildConfig is the older config compile, kept for CLIs that
// find no compile-config-with-defaults. Orbs come from the installation's
// orb registry (config.DefaultOrbDir: what `orbit orb import` fills).

// configResult is the GraphQL shape of a compile.
func configResult(c compileResponse) map[string]any {
	errs := make([]any, 0, len(c.Errors))
	for _, e := range c.Errors {
		errs = append(errs, map[string]any{"message": e.Message})
	}
	return map[string]any{"valid": c.Valid, "errors": errs, "sourceYaml": c.SourceYAML, "outputYaml": c.OutputYAML}
}

func (s *server) gqlBuildConfig(r *http.Request, vars gqlVars) (any, error) {
	src := vars.str("config", "configYaml")
	if src == "" {
		return nil, badRequest("buildConfig: configYaml is required")
	}
	opts, err := compileOptionsFor(compileOptions{PipelineValues: pipelineValueList(vars["pipelineValues"]),
		PipelineParameters: parameterObject(vars["pipelineParametersJson"])}, "")
	if err != nil {
		return nil, err
	}
	return configResult(compileConfig([]byte(src), opts)), nil
}

// pipelineValueList reads buildConfig's pipelineValues: a list of
// {key, val} (or an object).
func pipelineValueList(v any) map[string]any {
	out := map[string]any{}
	switch x := v.(type) {
	case map[string]any:
		return x
	case []any:
		for _, e := range x {
			if kv, ok := e.(map[string]any); ok {
				if k, ok := kv["key"].(string); ok {
					out[k] = kv["val"]
				}
			}
		}
	}
	return out
}

// parameterObject reads parameters given as an object or as JSON text.
func parameterObject(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case string:
		var m map[string]any
		if json.Unmarshal([]byte(x), &m) == nil {
			return m
		}
	}
	return nil
}

func (s *server) gqlOrbConfig(r *http.Request, vars gqlVars) (any, error) {
	src := vars.str("config", "orbYaml")
	if src == "" {
		return nil, badRequest("orbConfig: orbYaml is required")
	}
	res := compileResponse{SourceYAML: src, Errors: []compileMessage{}}
	if err := config.ValidateOrb([]byte(src), "orb.yml"); err != nil {
		res.Errors = configMessages(err)
	} else {
		res.Valid, res.OutputYAML = true, src
	}
	return configResult(res), nil
}

// gqlOrbVersion is one release of an orb in the registry, with the
// registry's other versions of it; an orb the registry lacks is null (the
// CLI then says it was not found).
func (s *server) gqlOrbVersion(r *http.Request, vars gqlVars) (any, error) {
	ref, err := config.ParseOrbRef(vars.str("orbVersionRef"))
	if err != nil {
		return nil, badRequest("orbVersionRef: %v", err)
	}
	reg := config.DirRegistry(config.DefaultOrbDir())
	exact, err := reg.Resolve(ref)
	if errors.Is(err, config.ErrOrbNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	src, path, err := reg.Orb(exact)
	if err != nil {
		return nil, err
	}
	created := ""
	if fi, err := os.Stat(path); err == nil {
		created = fi.ModTime().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	versions, err := reg.Versions(exact.Namespace, exact.Name)
	if err != nil {
		return nil, err
	}
	vs := make([]any, 0, len(versions))
	for _, v := range versions {
		at := ""
		if fi, err := os.Stat(filepath.Join(filepath.Dir(path), exact.Name+"@"+v+".yml")); err == nil {
			at = fi.ModTime().UTC().Format("2006-01-02T15:04:05.000Z")
		}
		vs = append(vs, map[string]any{"version": v, "createdAt": at})
	}
	name := exact.Namespace + "/" + exact.Name
	return map[string]any{
		"id":        ids.Derive("orb-version", exact.String()),
		"version":   exact.Version,
		"source":    string(src),
		"createdAt": created,
		"orb": map[string]any{
			"id":         ids.Derive("orb", name),
			"name":       name,
			"createdAt":  created,
			"namespace":  map[string]any{"name": exact.Namespace},
			"categories": []any{},
			"statistics": map[string]any{"last30DaysBuildCount": 0, "last30DaysProjectCount": 0, "last30DaysOrganizationCount": 0},
			"versions":   vs,
		},
	}, nil
}
