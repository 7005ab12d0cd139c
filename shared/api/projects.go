package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
)

// projectJSON is CircleCI's Project.
type projectJSON struct {
	Slug             string      `json:"slug"`
	Name             string      `json:"name"`
	ID               string      `json:"id"`
	OrganizationName string      `json:"organization_name"`
	OrganizationSlug string      `json:"organization_slug"`
	OrganizationID   string      `json:"organization_id"`
	VCSInfo          vcsInfoJSON `json:"vcs_info"`
}

type vcsInfoJSON struct {
	VCSURL        string `json:"vcs_url"`
	Provider      string `json:"provider"`
	DefaultBranch string `json:"default_branch"`
}

// listJSON is CircleCI's paginated list; NextPageToken is null on the last
// page.
type listJSON[T any] struct {
	Items         []T     `json:"items"`
	NextPageToken *string `json:"next_page_token"`
}

// itemsJSON is a list CircleCI answers whole, without next_page_token.
type itemsJSON[T any] struct {
	Items []T `json:"items"`
}

// writeList answers a page of records shown through view.
func writeList[R, T any](w http.ResponseWriter, recs []R, next string, view func(R) T) {
	items := make([]T, 0, len(recs))
	for _, r := range recs {
		items = append(items, view(r))
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}

func newList[T any](items []T, next string) listJSON[T] {
	if items == nil {
		items = []T{}
	}
	l := listJSON[T]{Items: items}
	if next != "" {
		l.NextPageToken = &next
	}
	return l
}

func projectView(p store.Project) projectJSON {
	vcs, org, _ := splitSlug(p.Slug)
	orgSlug := vcs + "/" + org
	return projectJSON{
		Slug:             p.Slug,
		Name:             p.Name,
		ID:               projectID(p.Slug),
		OrganizationName: org,
		OrganizationSlug: orgSlug,
		OrganizationID:   orgID(orgSlug),
		VCSInfo: vcsInfoJSON{
			VCSURL:        p.RepoURL,
			Provider:      providerName(vcs),
			DefaultBranch: p.DefaultBranch,
		},
	}
}

// projectID is the id CircleCI's shapes show for a project.
func projectID(slug string) string {
	return ids.Project(slug)
}

// splitSlug splits "<vcs>/<org>/<repo>".
func splitSlug(slug string) (vcs, org, repo string) {
	parts := strings.SplitN(slug, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// slugOf returns the project slug of a /api/v2/project/{vcs}/{org}/{repo}
// route.
func slugOf(r *http.Request) string {
	return r.PathValue("vcs") + "/" + r.PathValue("org") + "/" + r.PathValue("repo")
}

func (s *server) getProject(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.GetProject(r.Context(), slugOf(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, projectView(p))
	return nil
}

func (s *server) listProjects(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.visibleProjects(r.Context())
	if err != nil {
		return err
	}
	writeList(w, ps, "", projectView)
	return nil
}

// visibleProjects lists the projects the request's user may read.
func (s *server) visibleProjects(ctx context.Context) ([]store.Project, error) {
	ps, err := s.st.ListProjects(ctx)
	if err != nil {
		return nil, err
	}
	out := ps[:0]
	for _, p := range ps {
		ok, err := s.can(ctx, p.Slug, accounts.Read)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// followRequest is the body of POST /api/v2/project.
type followRequest struct {
	// Path is the repository, absolute or relative to the server's working
	// directory.
	Path string `json:"path"`
	// Org and Name override the slug's parts (default: the parent
	// directory's and the directory's base names).
	Org  string `json:"org"`
	Name string `json:"name"`
}

// followProject follows a local git repository as local/<org>/<name>.
func (s *server) followProject(w http.ResponseWriter, r *http.Request) error {
	var req followRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if strings.TrimSpace(req.Path) == "" {
		return badRequest(`"path" is required: the local git repository to follow`)
	}
	abs, branch, err := s.cfg.Projects.Inspect(r.Context(), req.Path)
	if err != nil {
		return fmt.Errorf("follow %s: %w", req.Path, err)
	}
	org, name := req.Org, req.Name
	if org == "" {
		org = filepath.Base(filepath.Dir(abs))
	}
	if name == "" {
		name = filepath.Base(abs)
	}
	org, name = sanitizeSlugPart(org), sanitizeSlugPart(name)
	if org == "" || name == "" {
		return badRequest("cannot derive a project slug from %s: give \"org\" and \"name\"", abs)
	}
	if branch == "" {
		branch = "main"
	}
	// Following reads a directory of the server: the local organization's
	// writers (and admins) may.
	if err := s.requireOn(r.Context(), "local/"+org, accounts.Write); err != nil {
		return err
	}
	p, err := s.st.CreateProject(r.Context(), store.Project{
		Slug:          "local/" + org + "/" + name,
		Name:          name,
		VCS:           "local",
		RepoURL:       abs,
		DefaultBranch: branch,
	})
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("project local/%s/%s is already followed (%w)", org, name, store.ErrExists)
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "project followed", "request_id", RequestID(r.Context()),
		"project", p.Slug, "path", abs, "default_branch", branch)
	writeJSON(w, http.StatusCreated, projectView(p))
	return nil
}

// sanitizeSlugPart keeps letters, digits, '.', '_' and '-', turns every
// other run of characters into one '-', and trims '-' and '.' at the ends
// (so the result is never "." or "..").
func sanitizeSlugPart(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		switch {
		case ok:
			b.WriteRune(c)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-.")
}
