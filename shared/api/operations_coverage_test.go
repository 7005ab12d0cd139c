package api_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/notify"
	"github.com/orbit-ci/orbit/shared/oidc"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/pipedef"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/usage"
	"github.com/orbit-ci/orbit/shared/vault"
)

// dispatchers are routes that serve several of the document's operations
// under one wildcard, because ServeMux would find their literal forms in
// conflict with other routes (artifacts.go); each lists its wildcard's
// values.
var dispatchers = map[string][]string{
	"GET /api/v2/project/{vcs}/{org}/{repo}/{number}/{resource}": {"artifacts", "tests"},
}

// sharedRoutes are routes that serve several operations of different
// shapes: the insights pages summary and a workflow's runs have the same
// path shape, so one route serves both (insights.go).
var sharedRoutes = map[string][]string{
	"GET /api/v2/insights/{a}/{b}/{c}/{d}/{e}": {"GET /insights/pages/{}/{}/{}/summary", "GET /insights/{}/{}/{}/workflows/{}"},
}

// noNotifications and noFiles stand in for the optional dependencies whose
// routes the coverage test lists but never calls.
type noNotifications struct{ api.Notifications }

func (noNotifications) SetUser(context.Context, string, notify.UserSetting) error       { return nil }
func (noNotifications) SetProject(context.Context, string, notify.ProjectSetting) error { return nil }

type noFiles struct{ api.JobFiles }

// continuingTrigger is the fake trigger that also continues pipelines (as
// the conductor does), so POST /pipeline/continue is registered.
type continuingTrigger struct{ *fakeTrigger }

func (continuingTrigger) Continue(context.Context, conductor.ContinueRequest) (store.Pipeline, error) {
	return store.Pipeline{}, fmt.Errorf("%w: the test's trigger continues nothing", conductor.ErrBadTrigger)
}

// withEverything configures every optional part of the API, so Routes()
// lists all the routes Orbit can serve.
func withEverything(t *testing.T) func(*api.Config) {
	t.Helper()
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "master.keys")})
	require.NoError(t, err)
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "audit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	blobs, err := dirblob.New(dirblob.Config{Root: t.TempDir(), BaseURL: "http://127.0.0.1/blob", Secret: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	rec, err := audit.New(audit.Config{KV: db, Blobs: blobs})
	require.NoError(t, err)
	return func(c *api.Config) {
		c.Audit = rec
		c.Controls = &fakeControls{}
		c.Nodes = &fakeNodes{}
		c.Files = noFiles{}
		c.Vault = vault.New(c.Store, secrets.NewSealer(keys))
		c.Notifications = noNotifications{}
		c.SignIn.Password = refusingLDAP{}
		c.Trigger = continuingTrigger{c.Trigger.(*fakeTrigger)}
		// Every integration and insights, so their routes are in the table.
		var err error
		c.Integrations.Webhooks, err = outhook.New(outhook.Config{KV: scratchKV(t), Records: c.Store, Sealer: sealer(t)})
		require.NoError(t, err)
		c.Integrations.UsageExports, err = usage.NewExports(usage.ExportsConfig{KV: scratchKV(t), Records: c.Store, Blobs: blobs})
		require.NoError(t, err)
		c.Integrations.OIDC, err = oidc.New(oidc.Config{KV: scratchKV(t), Sealer: sealer(t), Records: c.Store, Issuer: "https://orbit.example.com"})
		require.NoError(t, err)
		c.Integrations.Definitions, err = pipedef.New(pipedef.Config{KV: scratchKV(t), Sealer: sealer(t), Trigger: c.Trigger, BaseURL: "http://orbit.test"})
		require.NoError(t, err)
		c.Insights, err = insights.New(insights.Config{KV: scratchKV(t), Records: c.Store})
		require.NoError(t, err)
	}
}

// routeOps is the router's API routes as normalDoc operations ("GET
// /project/{}/{}/{}/pipeline"), each with the pattern that serves it.
func routeOps(h *api.Handler) map[string]string {
	ops := map[string]string{}
	for _, r := range h.Routes() {
		method, path, ok := normalRoute(r.Pattern)
		if !ok {
			continue
		}
		if values, ok := dispatchers[r.Pattern]; ok {
			last := strings.LastIndex(path, "{}")
			for _, v := range values {
				ops[method+" "+path[:last]+v+path[last+2:]] = r.Pattern
			}
			continue
		}
		ops[method+" "+path] = r.Pattern
	}
	return ops
}

// TestOperationsCoverage lists CircleCI's operations beside the router's
// and fails on every gap that operationExceptions does not explain.
func TestOperationsCoverage(t *testing.T) {
	doc := circleDoc(t)
	e := newEnv(t, withEverything(t))
	served := routeOps(e.h)
	for _, r := range e.h.Routes() {
		for _, op := range sharedRoutes[r.Pattern] {
			served[op] = r.Pattern
		}
	}

	ops := docOps(doc)
	slices.SortFunc(ops, func(a, b docOp) int { return strings.Compare(a.String(), b.String()) })
	covered := 0
	var missing, stale []string
	for _, op := range ops {
		_, excepted := operationExceptions[op.String()]
		_, ok := served[op.Method+" "+normalDoc(op.Path)]
		switch {
		case ok && excepted:
			stale = append(stale, op.String())
		case ok:
			covered++
		case !excepted:
			missing = append(missing, op.String())
		}
	}
	for key := range operationExceptions {
		method, path, _ := strings.Cut(key, " ")
		assert.True(t, slices.Contains(ops, docOp{method, path}), "operationExceptions names %q, which CircleCI's document does not have", key)
	}
	t.Logf("CircleCI API v2 operations served: %d of %d (%d in the exception list, %d of them pending)",
		covered, len(ops), len(operationExceptions), countPending())
	assert.Empty(t, missing, "operations of CircleCI's document that the router does not serve and operationExceptions does not explain")
	assert.Empty(t, stale, "operations the router serves although operationExceptions says they are missing: remove them from the list")
	assert.Equal(t, len(ops), covered, "Orbit serves every operation of CircleCI's document; the exception list is empty")
	assert.Len(t, ops, 110, "CircleCI's document (%s) has 110 operations", circleDocFile)
}

func countPending() int {
	n := 0
	for _, reason := range operationExceptions {
		if strings.HasPrefix(reason, "pending: ") {
			n++
		}
	}
	return n
}

// TestAPIDocListsExceptions: every operation Orbit does not serve for a
// reason of its own (not pending elsewhere) is named in docs/API.md.
func TestAPIDocListsExceptions(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "API.md"))
	require.NoError(t, err)
	for op, reason := range operationExceptions {
		if strings.HasPrefix(reason, "pending: ") {
			continue
		}
		_, path, _ := strings.Cut(op, " ")
		assert.Contains(t, string(doc), path, "docs/API.md does not mention %s (%s)", op, reason)
	}
}
