// Package agenttest is a fake runner API for tests of the build agent and
// nomadbridge: an httptest server on 127.0.0.1 that serves task specs by
// token and records what agents and the bridge report.
//
// It follows the runner API contract (shared/runner): GET /task answers 410
// once the task is terminal, output chunks with a seq already stored are
// ignored, and the first terminal result of POST /task/finish wins. The
// files routes (caches, workspaces, artifacts, tests) are served by a real
// taskfiles.Service on a directory blob store, behind the real runner
// handler, so they cannot drift from the contract.
package agenttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/taskfiles"
	"github.com/orbit-ci/orbit/shared/taskfiles/taskfilestest"
)

// Server is the fake runner API.
type Server struct {
	// URL is the runner base URL agents are given.
	URL string

	// Files is the files backend; tests inspect its blobs and tasks.
	Files *taskfilestest.Env

	srv   *httptest.Server
	files http.Handler
	mu    sync.Mutex
	tasks map[string]*Task // by token
	down  bool
	dir   string
}

// Chunk is one output chunk as received.
type Chunk struct {
	Seq  int
	Data []byte
	At   time.Time
}

// Finish is one POST /task/finish as received.
type Finish struct {
	Result runner.TaskResult
	// UserAgent tells the agent's reports from the bridge's.
	UserAgent string
	// Accepted is true for the first terminal result, the one kept.
	Accepted bool
}

// Task is what the server knows and received about one task.
type Task struct {
	Spec       runner.TaskSpec
	Started    bool
	Host       string
	Steps      map[int][]runner.StepReport
	Chunks     map[int][]Chunk
	Finishes   []Finish
	Result     *runner.TaskResult
	Heartbeats int
	// Waits are the bridge's reports of why the task waits.
	Waits []runner.TaskWaiting
}

// Output is step n's output, its chunks joined in seq order.
func (t *Task) Output(n int) string {
	var b strings.Builder
	for _, c := range t.Chunks[n] {
		b.Write(c.Data)
	}
	return b.String()
}

// Last is step n's last report (zero if none).
func (t *Task) Last(n int) runner.StepReport {
	r := t.Steps[n]
	if len(r) == 0 {
		return runner.StepReport{}
	}
	return r[len(r)-1]
}

// New starts a server on 127.0.0.1; call Close when done.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("agenttest: listen: %w", err)
	}
	dir, err := os.MkdirTemp("", "agenttest-")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("agenttest: %w", err)
	}
	s := &Server{tasks: map[string]*Task{}, dir: dir}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL + "/runner/v1"
	s.Files, err = taskfilestest.New(dir, s.srv.URL)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("agenttest: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/blob/", s.Files.Handler)
	mux.Handle("/runner/v1/", http.StripPrefix("/runner/v1",
		runner.NewHandler(nil, verifier{s}, nil, runner.WithFiles(s.Files.Service))))
	s.files = mux
	return s, nil
}

// Close stops the server and removes its blobs.
func (s *Server) Close() {
	s.srv.Close()
	_ = os.RemoveAll(s.dir)
}

// Add makes a task known under token. Its files context comes from the
// spec: ProjectSlug (default "gh/acme/project"), JobNumber, JobName, Index,
// WorkflowID and Checkout.Branch, with default branch "main"; SetFiles
// changes it.
func (s *Server) Add(token string, spec runner.TaskSpec) {
	slug := spec.ProjectSlug
	if slug == "" {
		slug = "gh/acme/project"
	}
	s.SetFiles(taskfiles.TaskContext{TaskID: spec.TaskID, ProjectSlug: slug, JobNumber: spec.JobNumber,
		JobName: spec.JobName, Attempt: 1, Index: spec.Index, WorkflowID: spec.WorkflowID,
		Branch: spec.Checkout.Branch, DefaultBranch: "main"})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks[token] = &Task{Spec: spec, Steps: map[int][]runner.StepReport{}, Chunks: map[int][]Chunk{}}
}

// SetFiles sets what the files routes know about a task (e.g. the jobs
// upstream of it).
func (s *Server) SetFiles(tc taskfiles.TaskContext) { s.Files.Tasks.Set(tc) }

// SetResult makes the task terminal as if another party had reported r
// (e.g. a user canceled it); GET /task then answers 410.
func (s *Server) SetResult(token string, r runner.TaskResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tasks[token]; t != nil && t.Result == nil {
		t.Result = &r
		s.Files.Tasks.End(t.Spec.TaskID)
	}
}

// verifier resolves the server's tokens for the files routes.
type verifier struct{ s *Server }

func (v verifier) Verify(token string) (string, error) {
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	if t := v.s.tasks[token]; t != nil {
		return t.Spec.TaskID, nil
	}
	return "", runner.ErrBadToken
}

// filesRoute reports whether a request is for the files routes.
func filesRoute(r *http.Request) bool {
	p := strings.TrimPrefix(r.URL.Path, "/runner/v1")
	switch {
	case strings.HasPrefix(r.URL.Path, "/blob/"), strings.HasPrefix(p, "/uploads/"),
		strings.HasPrefix(p, "/task/caches/"), strings.HasPrefix(p, "/task/workspace"),
		p == "/task/artifacts", p == "/task/timings":
		return true
	}
	return strings.HasPrefix(p, "/task/steps/") && strings.HasSuffix(p, "/tests")
}

// SetDown makes every request answer 503 (the API is restarting) or not.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Task returns a deep copy of what the server holds for token (nil if the
// token is unknown).
func (s *Server) Task(token string) *Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[token]
	if t == nil {
		return nil
	}
	c := *t
	c.Steps = map[int][]runner.StepReport{}
	for k, v := range t.Steps {
		c.Steps[k] = slices.Clone(v)
	}
	c.Chunks = map[int][]Chunk{}
	for k, v := range t.Chunks {
		c.Chunks[k] = slices.Clone(v)
	}
	c.Finishes = slices.Clone(t.Finishes)
	c.Waits = slices.Clone(t.Waits)
	if t.Result != nil {
		r := *t.Result
		c.Result = &r
	}
	return &c
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if filesRoute(r) {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		if down {
			jsonError(w, http.StatusServiceUnavailable, "restarting")
			return
		}
		s.files.ServeHTTP(w, r)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/runner/v1")
	if !ok {
		jsonError(w, http.StatusNotFound, "not found")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "read body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		jsonError(w, http.StatusServiceUnavailable, "restarting")
		return
	}
	t := s.tasks[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if t == nil {
		jsonError(w, http.StatusUnauthorized, "invalid or expired task token")
		return
	}
	switch {
	case r.Method == http.MethodGet && (path == "/task" || path == "/task/placement"):
		if t.Result != nil {
			jsonError(w, http.StatusGone, "task is terminal")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if path == "/task/placement" {
			_ = json.NewEncoder(w).Encode(t.Spec.Placement())
			return
		}
		_ = json.NewEncoder(w).Encode(t.Spec)
		return
	case r.Method == http.MethodPost && path == "/task/start":
		var st runner.TaskStart
		if json.Unmarshal(body, &st) != nil {
			jsonError(w, http.StatusBadRequest, "bad body")
			return
		}
		t.Started, t.Host = true, st.Host
	case r.Method == http.MethodPost && path == "/task/heartbeat":
		if t.Result != nil { // as the runner API: a terminal task's heartbeat is 410
			jsonError(w, http.StatusGone, "task is terminal")
			return
		}
		t.Heartbeats++
	case r.Method == http.MethodPost && path == "/task/waiting":
		var tw runner.TaskWaiting
		if json.Unmarshal(body, &tw) != nil {
			jsonError(w, http.StatusBadRequest, "bad body")
			return
		}
		t.Waits = append(t.Waits, tw)
	case r.Method == http.MethodPost && path == "/task/finish":
		var res runner.TaskResult
		if json.Unmarshal(body, &res) != nil || res.Status == "" {
			jsonError(w, http.StatusBadRequest, "bad body")
			return
		}
		f := Finish{Result: res, UserAgent: r.Header.Get("User-Agent")}
		if t.Result == nil {
			t.Result, f.Accepted = &res, true
			s.Files.Tasks.End(t.Spec.TaskID)
		}
		t.Finishes = append(t.Finishes, f)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/task/steps/"):
		rest := strings.TrimPrefix(path, "/task/steps/")
		num, output := strings.CutSuffix(rest, "/output")
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || n >= len(t.Spec.Steps) {
			jsonError(w, http.StatusNotFound, "no such step")
			return
		}
		if output {
			seq, err := strconv.Atoi(r.URL.Query().Get("seq"))
			if err != nil || seq < 0 {
				jsonError(w, http.StatusBadRequest, "bad seq")
				return
			}
			if !slices.ContainsFunc(t.Chunks[n], func(c Chunk) bool { return c.Seq == seq }) {
				t.Chunks[n] = append(t.Chunks[n], Chunk{Seq: seq, Data: body, At: time.Now()})
				slices.SortFunc(t.Chunks[n], func(a, b Chunk) int { return a.Seq - b.Seq })
			}
		} else {
			var rep runner.StepReport
			if json.Unmarshal(body, &rep) != nil || rep.Status == "" {
				jsonError(w, http.StatusBadRequest, "bad body")
				return
			}
			t.Steps[n] = append(t.Steps[n], rep)
		}
	default:
		jsonError(w, http.StatusNotFound, "not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}
