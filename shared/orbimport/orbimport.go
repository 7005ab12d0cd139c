// Package orbimport fills Orbit's local orb registry (config.DirRegistry),
// which pipelines read without network, from what a CircleCI user has:
//
//	a file        one release's source (`circleci orb source` output)
//	a directory   many releases, laid out as the registry is:
//	              <namespace>/<name>@<x.y.z>.yml (a copy of another
//	              installation's registry, or of an air-gapped bundle)
//	a registry    a CircleCI-compatible orb registry's GraphQL endpoint
//	              (https://circleci.com/graphql-unstable, or another Orbit's):
//	              the release a reference names, @volatile and partial
//	              versions resolved by that registry, stored as its exact
//	              version
//
// Every source is validated as an orb before it is stored; an import that
// fails stores nothing of that release.
package orbimport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/config"
)

// Imported is one release stored.
type Imported struct {
	Ref  config.OrbRef
	Path string
}

// Dir imports every <namespace>/<name>@<version>.yml under dir. A file
// elsewhere or otherwise named is an error naming it, before anything is
// stored; a release that is not a valid orb stops the import there.
func Dir(reg config.DirRegistry, dir string) ([]Imported, error) {
	type release struct {
		ref  config.OrbRef
		file string
	}
	var found []release
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		ns, file, ok := strings.Cut(filepath.ToSlash(rel), "/")
		name, isYAML := strings.CutSuffix(file, ".yml")
		if !ok || !isYAML || strings.Contains(file, "/") {
			return fmt.Errorf("%s: not an orb release file: the layout is <namespace>/<name>@<version>.yml", path)
		}
		ref, err := config.ParseOrbRef(ns + "/" + name)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		found = append(found, release{ref, path})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s holds no orb release (<namespace>/<name>@<version>.yml)", dir)
	}
	out := make([]Imported, 0, len(found))
	for _, r := range found {
		src, err := os.ReadFile(r.file)
		if err != nil {
			return out, err
		}
		path, err := reg.Import(r.ref, src)
		if err != nil {
			return out, fmt.Errorf("%s: %w", r.file, err)
		}
		out = append(out, Imported{Ref: r.ref, Path: path})
	}
	return out, nil
}

// Registry is a CircleCI-compatible orb registry.
type Registry struct {
	// URL is the registry's host (https://circleci.com) or its GraphQL
	// endpoint (…/graphql-unstable).
	URL string
	// Token, when set, is sent as Authorization (CircleCI's GraphQL
	// header); public orbs need none.
	Token string
	// Client sends the requests; nil is http.DefaultClient.
	Client *http.Client
}

// ErrNotInRegistry: the registry has no such orb release.
var ErrNotInRegistry = errors.New("the registry has no such orb release")

// orbVersionQuery is the query `circleci orb source` sends.
const orbVersionQuery = `query($orbVersionRef: String!) {
  orbVersion(orbVersionRef: $orbVersionRef) {
    id
    version
    orb { id name }
    source
  }
}`

// Fetch returns the exact release ref names in the registry, and its
// source.
func (r Registry) Fetch(ctx context.Context, ref config.OrbRef) (config.OrbRef, []byte, error) {
	endpoint := strings.TrimSuffix(r.URL, "/")
	if !strings.HasSuffix(endpoint, "/graphql-unstable") {
		endpoint += "/graphql-unstable"
	}
	body, _ := json.Marshal(map[string]any{"query": orbVersionQuery, "variables": map[string]any{"orbVersionRef": ref.String()}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return ref, nil, fmt.Errorf("orb registry %s: %w", r.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Token != "" {
		req.Header.Set("Authorization", r.Token)
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return ref, nil, fmt.Errorf("orb registry %s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return ref, nil, fmt.Errorf("orb registry %s: %w", r.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return ref, nil, fmt.Errorf("orb registry %s answered %s", endpoint, resp.Status)
	}
	var out struct {
		Data struct {
			OrbVersion *struct {
				Version string `json:"version"`
				Source  string `json:"source"`
			} `json:"orbVersion"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return ref, nil, fmt.Errorf("orb registry %s: not a GraphQL answer: %w", endpoint, err)
	}
	if len(out.Errors) > 0 {
		return ref, nil, fmt.Errorf("orb registry %s: %s", endpoint, out.Errors[0].Message)
	}
	ov := out.Data.OrbVersion
	if ov == nil || ov.Source == "" {
		return ref, nil, fmt.Errorf("%s: %w", ref, ErrNotInRegistry)
	}
	exact := ref
	exact.Version = ov.Version
	if exact.Version == "" {
		exact.Version = ref.Version
	}
	return exact, []byte(ov.Source), nil
}

// Import fetches each reference from the registry and stores it under its
// exact version.
func (r Registry) Import(ctx context.Context, reg config.DirRegistry, refs []config.OrbRef) ([]Imported, error) {
	out := make([]Imported, 0, len(refs))
	for _, ref := range refs {
		exact, src, err := r.Fetch(ctx, ref)
		if err != nil {
			return out, err
		}
		path, err := reg.Import(exact, src)
		if err != nil {
			return out, err
		}
		out = append(out, Imported{Ref: exact, Path: path})
	}
	return out, nil
}
