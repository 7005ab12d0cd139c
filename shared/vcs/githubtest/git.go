package githubtest

import (
	"net/http"
	"net/http/cgi"
	"os/exec"
	"strings"
	"sync"
)

// gitServer serves repositories over git's smart HTTP protocol (git
// http-backend as CGI), as GitHub serves https://host/<owner>/<repo>.git,
// requiring the HTTP basic auth GitHub accepts from apps and deploy
// tooling: user x-access-token, password a known token.
type gitServer struct {
	mu    sync.Mutex
	roots map[string]string // "owner/repo" → the directory that holds <repo>.git
}

// ServeGit serves the bare repository dir (…/<repo>.git) as
// <server>/<owner>/<repo>.git to clients authenticating with a token of
// AddUser. It returns the clone URL.
func (s *Server) ServeGit(owner, repo, dir string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.git.roots[owner+"/"+repo] = dir
	return s.URL + "/" + owner + "/" + repo + ".git"
}

func (s *Server) gitHandler(w http.ResponseWriter, r *http.Request) {
	owner, repo := r.PathValue("owner"), strings.TrimSuffix(r.PathValue("repo"), ".git")
	user, pass, _ := r.BasicAuth()
	s.mu.Lock()
	dir, ok := s.git.roots[owner+"/"+repo]
	_, authed := s.users[pass]
	s.mu.Unlock()
	if !authed || user != "x-access-token" {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		http.Error(w, "git not found: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := &cgi.Handler{
		Path: strings.TrimSpace(string(backend)) + "/git-http-backend",
		Env:  []string{"GIT_PROJECT_ROOT=" + strings.TrimSuffix(dir, "/"+repo+".git"), "GIT_HTTP_EXPORT_ALL=1"},
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + repo + ".git/" + r.PathValue("rest")
	h.ServeHTTP(w, r2)
}
