// Package githubtest is a fake GitHub for tests: an httptest server that
// speaks the shapes of the REST endpoints Orbit's github driver uses (as
// GitHub documents them, and as go-github decodes them), holding its state in
// memory. The driver's tests run against it; a conformance test decodes its
// answers with go-github's types so it cannot drift from what the client
// reads.
//
//	GET  /login/oauth/authorize              302 to redirect_uri?code=…&state=…
//	POST /login/oauth/access_token           {"access_token","token_type","scope"}
//	GET  /api/v3/user                        the token's user
//	GET  /api/v3/user/orgs                   the user's organizations
//	GET  /api/v3/user/repos                  repositories the user may see
//	GET  /api/v3/repos/{o}/{r}               a repository
//	GET  /api/v3/repos/{o}/{r}/commits/{ref} the SHA of a ref (Accept: application/vnd.github.sha),
//	                                         else the commit (message, author; files paginated)
//	GET  /api/v3/repos/{o}/{r}/collaborators/{user}/permission
//	GET  /api/v3/repos/{o}/{r}/contents/{path}?ref=SHA  a file, base64
//	POST/DELETE /api/v3/repos/{o}/{r}/hooks[/{id}], /keys[/{id}]
//	POST /api/v3/repos/{o}/{r}/statuses/{sha}  a commit status
//	     /{o}/{r}.git/…                    git smart HTTP (ServeGit), token as basic auth
//
// Paths are served under /api/v3 as on GitHub Enterprise (the driver's base
// URL setting is the server's URL).
package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// User is an account of the fake.
type User struct {
	ID          int64
	Login, Name string
	Email       string
	Orgs        []string
}

// Repo is a repository of the fake: its files at each commit, its refs and
// who may do what.
type Repo struct {
	Owner, Name   string
	DefaultBranch string
	Private       bool
	// Refs maps a branch or tag name to a commit SHA.
	Refs map[string]string
	// Files maps a commit SHA to path → content.
	Files map[string]map[string]string
	// Permissions maps a login to "admin", "write", "read" (absent: none).
	Permissions map[string]string
	// Commits maps a commit SHA to its message and author (absent: an
	// empty message by an unnamed author).
	Commits map[string]Commit
}

// Commit is a commit's message and author.
type Commit struct {
	Message                 string
	AuthorName, AuthorEmail string
	// AuthorDate is the author's date (RFC 3339); "" means a fixed date.
	AuthorDate string
}

// Hook is a webhook created through the API.
type Hook struct {
	ID     int64
	URL    string
	Secret string
	Events []string
}

// Key is a deploy key created through the API.
type Key struct {
	ID       int64
	Title    string
	Key      string
	ReadOnly bool
}

// Status is a commit status posted through the API.
type Status struct {
	SHA, State, Context, TargetURL, Description string
}

// Server is the fake GitHub.
type Server struct {
	*httptest.Server
	// ClientID and ClientSecret are the OAuth app's credentials the fake
	// accepts at the token endpoint.
	ClientID, ClientSecret string

	mu       sync.Mutex
	users    map[string]User // by token
	codes    map[string]string
	repos    map[string]*Repo
	hooks    map[string][]Hook
	keys     map[string][]Key
	statuses map[string][]Status
	nextID   int64
	calls    map[string]int
	down     bool
	git      gitServer
}

// New starts a fake GitHub; Close it when done.
func New() *Server {
	s := &Server{
		ClientID: "orbit-client-id", ClientSecret: "orbit-client-secret",
		users: map[string]User{}, codes: map[string]string{}, repos: map[string]*Repo{},
		hooks: map[string][]Hook{}, keys: map[string][]Key{}, statuses: map[string][]Status{},
		calls: map[string]int{}, git: gitServer{roots: map[string]string{}},
	}
	s.Server = httptest.NewServer(s.routes())
	return s
}

// AddUser registers a user reachable with token and returns the OAuth code
// that exchanges for it.
func (s *Server) AddUser(token string, u User) (code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[token] = u
	code = "code-" + u.Login
	s.codes[code] = token
	return code
}

// AddRepo registers a repository.
func (s *Server) AddRepo(r Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[r.Owner+"/"+r.Name] = &r
}

// SetDown makes every API call answer 503 (GitHub unavailable) until
// SetDown(false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Hooks returns the webhooks of owner/repo.
func (s *Server) Hooks(owner, repo string) []Hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hook(nil), s.hooks[owner+"/"+repo]...)
}

// Keys returns the deploy keys of owner/repo.
func (s *Server) Keys(owner, repo string) []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Key(nil), s.keys[owner+"/"+repo]...)
}

// Statuses returns the commit statuses posted to owner/repo, oldest first.
func (s *Server) Statuses(owner, repo string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses[owner+"/"+repo]...)
}

// Calls returns how many requests matched route (its pattern, e.g.
// "GET /api/v3/repos/{owner}/{repo}/collaborators/{user}/permission").
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.calls[pattern]++
			down := s.down
			s.mu.Unlock()
			if down && strings.HasPrefix(r.URL.Path, "/api/") {
				writeError(w, http.StatusServiceUnavailable, "Service Unavailable")
				return
			}
			h(w, r)
		})
	}
	handle("GET /login/oauth/authorize", s.authorize)
	handle("POST /login/oauth/access_token", s.accessToken)
	const repo = "/api/v3/repos/{owner}/{repo}"
	handle("GET /api/v3/user", s.withUser(s.getUser))
	handle("GET /api/v3/user/orgs", s.withUser(s.userOrgs))
	handle("GET /api/v3/user/repos", s.withUser(s.userRepos))
	handle("GET "+repo, s.withRepo(s.getRepo))
	handle("GET "+repo+"/commits/{ref...}", s.withRepo(s.commitSHA))
	handle("GET "+repo+"/collaborators/{user}/permission", s.withRepo(s.permission))
	handle("GET "+repo+"/contents/{path...}", s.withRepo(s.contents))
	handle("POST "+repo+"/hooks", s.withRepo(s.createHook))
	handle("DELETE "+repo+"/hooks/{id}", s.withRepo(s.deleteHook))
	handle("POST "+repo+"/keys", s.withRepo(s.createKey))
	handle("DELETE "+repo+"/keys/{id}", s.withRepo(s.deleteKey))
	handle("POST "+repo+"/statuses/{sha}", s.withRepo(s.createStatus))
	mux.HandleFunc("/{owner}/{repo}/{rest...}", s.gitHandler)
	return mux
}

// writeError answers GitHub's error shape.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// token reads "Authorization: Bearer|token <t>".
func token(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token "} {
		if t, ok := strings.CutPrefix(h, p); ok {
			return t
		}
	}
	return ""
}

func (s *Server) withUser(h func(w http.ResponseWriter, r *http.Request, u User)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		u, ok := s.users[token(r)]
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		h(w, r, u)
	}
}

// withRepo finds the repository; any known token may read it (the fake's
// permissions matter only to the permission endpoint).
func (s *Server) withRepo(h func(w http.ResponseWriter, r *http.Request, rp *Repo)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		_, authed := s.users[token(r)]
		rp, ok := s.repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
		s.mu.Unlock()
		if !authed {
			writeError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		if !ok {
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		h(w, r, rp)
	}
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	// The fake signs in the user named by ?login= (a test's choice).
	s.mu.Lock()
	code := ""
	for c, tok := range s.codes {
		if s.users[tok].Login == q.Get("login") {
			code = c
		}
	}
	s.mu.Unlock()
	target, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || code == "" {
		http.Error(w, "bad redirect_uri or login", http.StatusBadRequest)
		return
	}
	tq := target.Query()
	tq.Set("code", code)
	tq.Set("state", q.Get("state"))
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// accessToken answers as GitHub does: 200 with an "error" field for a bad
// code, JSON when asked with Accept: application/json.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if id != s.ClientID || secret != s.ClientSecret {
		writeJSON(w, http.StatusOK, map[string]string{"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
		return
	}
	s.mu.Lock()
	tok, ok := s.codes[r.Form.Get("code")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "token_type": "bearer", "scope": "repo,read:org,user:email"})
}

func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, u User) {
	writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "login": u.Login, "name": u.Name, "email": u.Email, "type": "User"})
}

func (s *Server) userOrgs(w http.ResponseWriter, _ *http.Request, u User) {
	out := []map[string]any{}
	for i, o := range u.Orgs {
		out = append(out, map[string]any{"login": o, "id": 1000 + i, "url": s.URL + "/api/v3/orgs/" + o})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) repoJSON(rp *Repo, perm string) map[string]any {
	full := rp.Owner + "/" + rp.Name
	j := map[string]any{
		"id": 1, "name": rp.Name, "full_name": full, "private": rp.Private,
		"owner":          map[string]any{"login": rp.Owner},
		"html_url":       s.URL + "/" + full,
		"clone_url":      s.URL + "/" + full + ".git",
		"ssh_url":        "git@" + strings.TrimPrefix(s.URL, "http://") + ":" + full + ".git",
		"default_branch": rp.DefaultBranch,
	}
	if perm != "" {
		j["permissions"] = map[string]bool{"admin": perm == "admin", "push": perm == "admin" || perm == "write", "pull": true}
	}
	return j
}

func (s *Server) userRepos(w http.ResponseWriter, _ *http.Request, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, rp := range s.repos {
		if p := rp.Permissions[u.Login]; p != "" {
			out = append(out, s.repoJSON(rp, p))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRepo(w http.ResponseWriter, _ *http.Request, rp *Repo) {
	writeJSON(w, http.StatusOK, s.repoJSON(rp, ""))
}

func (s *Server) resolve(rp *Repo, ref string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sha, ok := rp.Refs[ref]; ok {
		return sha, true
	}
	_, ok := rp.Files[ref]
	return ref, ok
}

func (s *Server) commitSHA(w http.ResponseWriter, r *http.Request, rp *Repo) {
	sha, ok := s.resolve(rp, r.PathValue("ref"))
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+r.PathValue("ref"))
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "sha") {
		w.Header().Set("Content-Type", "application/vnd.github.sha")
		_, _ = w.Write([]byte(sha))
		return
	}
	s.mu.Lock()
	c := rp.Commits[sha]
	s.mu.Unlock()
	if c.AuthorDate == "" {
		c.AuthorDate = "2026-11-30T17:18:41Z"
	}
	full := rp.Owner + "/" + rp.Name
	author := map[string]any{"name": c.AuthorName, "email": c.AuthorEmail, "date": c.AuthorDate}
	writeJSON(w, http.StatusOK, map[string]any{
		"sha": sha, "node_id": "C_" + sha,
		"url":      s.URL + "/api/v3/repos/" + full + "/commits/" + sha,
		"html_url": s.URL + "/" + full + "/commit/" + sha,
		"commit": map[string]any{
			"message": c.Message, "author": author, "committer": author,
			"url":  s.URL + "/api/v3/repos/" + full + "/git/commits/" + sha,
			"tree": map[string]any{"sha": "tree-" + sha},
		},
		"parents": []any{},
		// The files are paginated (per_page, page); the fake's commits
		// touch none.
		"files": []any{},
	})
}

func (s *Server) permission(w http.ResponseWriter, r *http.Request, rp *Repo) {
	s.mu.Lock()
	p := rp.Permissions[r.PathValue("user")]
	s.mu.Unlock()
	if p == "" {
		p = "none"
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission": p, "role_name": p, "user": map[string]any{"login": r.PathValue("user")}})
}

func (s *Server) contents(w http.ResponseWriter, r *http.Request, rp *Repo) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rp.DefaultBranch
	}
	sha, ok := s.resolve(rp, ref)
	if !ok {
		writeError(w, http.StatusNotFound, "No commit found for the ref "+ref)
		return
	}
	path := r.PathValue("path")
	s.mu.Lock()
	body, ok := rp.Files[sha][path]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(body), "name": path[strings.LastIndex(path, "/")+1:],
		"path": path, "sha": fmt.Sprintf("blob-%s-%s", sha, path),
		"content": base64.StdEncoding.EncodeToString([]byte(body)),
	})
}

func (s *Server) id() int64 { s.nextID++; return s.nextID }

func (s *Server) createHook(w http.ResponseWriter, r *http.Request, rp *Repo) {
	var in struct {
		Name   string   `json:"name"`
		Events []string `json:"events"`
		Active bool     `json:"active"`
		Config struct {
			URL         string `json:"url"`
			ContentType string `json:"content_type"`
			Secret      string `json:"secret"`
		} `json:"config"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Config.URL == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	s.mu.Lock()
	h := Hook{ID: s.id(), URL: in.Config.URL, Secret: in.Config.Secret, Events: in.Events}
	full := rp.Owner + "/" + rp.Name
	s.hooks[full] = append(s.hooks[full], h)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": h.ID, "type": "Repository", "name": "web", "active": true, "events": h.Events,
		"config":   map[string]any{"url": h.URL, "content_type": in.Config.ContentType, "insecure_ssl": "0", "secret": "********"},
		"url":      fmt.Sprintf("%s/api/v3/repos/%s/hooks/%d", s.URL, full, h.ID),
		"ping_url": fmt.Sprintf("%s/api/v3/repos/%s/hooks/%d/pings", s.URL, full, h.ID),
	})
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, rp *Repo) {
	var in struct {
		Title    string `json:"title"`
		Key      string `json:"key"`
		ReadOnly bool   `json:"read_only"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.HasPrefix(in.Key, "ssh-") {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: key is invalid. You must supply a key in OpenSSH public key format")
		return
	}
	s.mu.Lock()
	k := Key{ID: s.id(), Title: in.Title, Key: in.Key, ReadOnly: in.ReadOnly}
	full := rp.Owner + "/" + rp.Name
	s.keys[full] = append(s.keys[full], k)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "key": k.Key, "title": k.Title, "read_only": k.ReadOnly, "verified": true})
}

// deleteByID removes the item with the path's id from list, 404 if absent.
func deleteByID[T any](s *Server, w http.ResponseWriter, r *http.Request, m map[string][]T, idOf func(T) int64) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	full := r.PathValue("owner") + "/" + r.PathValue("repo")
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range m[full] {
		if idOf(it) == id {
			m[full] = append(m[full][:i], m[full][i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

func (s *Server) deleteHook(w http.ResponseWriter, r *http.Request, _ *Repo) {
	deleteByID(s, w, r, s.hooks, func(h Hook) int64 { return h.ID })
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request, _ *Repo) {
	deleteByID(s, w, r, s.keys, func(k Key) int64 { return k.ID })
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request, rp *Repo) {
	var in struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	switch in.State {
	case "pending", "success", "failure", "error":
	default:
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: state is not included in the list")
		return
	}
	if len(in.Description) > 140 {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: description is too long (maximum is 140 characters)")
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	st := Status{SHA: r.PathValue("sha"), State: in.State, Context: in.Context, TargetURL: in.TargetURL, Description: in.Description}
	s.mu.Lock()
	full := rp.Owner + "/" + rp.Name
	s.statuses[full] = append(s.statuses[full], st)
	id := s.id()
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "state": st.State, "context": st.Context, "target_url": st.TargetURL, "description": st.Description})
}
