package awsshape

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

// shape is the aws shape running: the cloud, the api and conductor
// functions under the emulator, the front.
type shape struct {
	*cloud
	api, conductor *function
	front          *front
	url            string // the front's URL: the API Gateway URL
	// client sends the admin's token (from `orbit admin bootstrap`) to
	// the front, and to nothing else (not to S3 after a redirect).
	client *http.Client
}

// adminClient bootstraps the installation's first admin as an operator
// does, with `orbit admin bootstrap` on the functions' settings, and
// returns a client that authenticates to the front with the token.
func adminClient(t testing.TB, env []string, front string) *http.Client {
	t.Helper()
	bin := testenv.Need(t, "ORBIT_BIN", "make test builds bin/orbit")
	cmd := exec.Command(bin, "admin", "bootstrap")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	require.NoError(t, err, "orbit admin bootstrap: %s", out)
	tok := strings.TrimSpace(string(out))
	require.True(t, strings.HasPrefix(tok, "orbit_"), "a token: %q", tok)
	host := strings.TrimPrefix(front, "http://")
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == host {
			r = r.Clone(r.Context())
			r.Header.Set("Circle-Token", tok)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func startShape(t testing.TB, apis, conductors int, extra ...string) *shape {
	t.Helper()
	ref := &functionRef{}
	c := newCloud(t, ref)
	fr := &front{}
	srv := httptest.NewServer(fr)
	t.Cleanup(srv.Close)
	env := append(append([]string{"ORBIT_BASE_URL=" + srv.URL}, c.env...), extra...)
	s := &shape{cloud: c, front: fr, url: srv.URL}
	s.api = startFunction(t, "api", apis, env)
	s.conductor = startFunction(t, "conductor", conductors, env)
	fr.api, ref.f = s.api, s.conductor
	s.client = adminClient(t, env, srv.URL)
	return s
}

func (s *shape) get(t testing.TB, path string) (int, []byte) {
	t.Helper()
	resp, err := s.client.Get(s.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// TestAPILambdaOnMoto: the api bootstrap under the emulator, its settings
// as the CDK app sets them (the signing secret by ARN from Secrets
// Manager), answers through the API Gateway front with every dependency
// healthy in moto.
func TestAPILambdaOnMoto(t *testing.T) {
	s := startShape(t, 1, 1)
	code, body := s.get(t, "/health-check")
	require.Equal(t, http.StatusOK, code, "%s\n%s", body, s.api.log())
	var projects struct {
		Items []json.RawMessage `json:"items"`
	}
	code, body = s.get(t, "/api/v2/projects")
	require.Equal(t, http.StatusOK, code, string(body))
	require.NoError(t, json.Unmarshal(body, &projects))
	assert.Empty(t, projects.Items)

	// The browser UI is the same handler behind the same front: a page,
	// and the stylesheet and script bundles it links.
	code, body = s.get(t, "/")
	require.Equal(t, http.StatusOK, code, string(body))
	page := string(body)
	assert.Contains(t, page, `<nav aria-label="Main">`)
	for _, m := range regexp.MustCompile(`(?:href|src)="(/ui/static/orbit\.[0-9a-f]+\.(?:css|js))"`).FindAllStringSubmatch(page, -1) {
		code, body = s.get(t, m[1])
		assert.Equal(t, http.StatusOK, code, "%s through the front", m[1])
		assert.NotEmpty(t, body)
	}
	assert.Equal(t, 2, strings.Count(page, `/ui/static/orbit.`), "the page links both bundles")
	assert.NotContains(t, s.api.log(), s.secret, "the signing secret is never logged")
	counts := s.aws.snapshot()
	assert.Equal(t, 2, counts["secretsmanager GetSecretValue"],
		"read once by the api, at its cold start, and once by `orbit admin bootstrap`: %v", counts)
}

// TestLambdaMissingSetting: a function whose setting is missing fails its
// start with the setting's name, and its invocation fails.
func TestLambdaMissingSetting(t *testing.T) {
	c := newCloud(t, &functionRef{})
	var env []string
	for _, kv := range c.env {
		if !strings.HasPrefix(kv, "ORBIT_TABLE=") {
			env = append(env, kv)
		}
	}
	api := startFunction(t, "api", 1, append(env, "ORBIT_BASE_URL=http://127.0.0.1:1"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, h, err := api.invoke(ctx, []byte(`{"version":"2.0","rawPath":"/health-check","requestContext":{"http":{"method":"GET","path":"/health-check"}}}`))
	if err == nil {
		assert.NotEmpty(t, h.Get("X-Amz-Function-Error"), string(body))
	}
	require.Eventually(t, func() bool { return strings.Contains(api.log(), "ORBIT_TABLE not set") }, 30*time.Second, 50*time.Millisecond, api.log())
}
