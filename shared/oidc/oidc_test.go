package oidc_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/oidc"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
)

const slug = "gh/acme/api"

type fixture struct {
	db   *boltkv.Store
	st   *store.Store
	seal *secrets.Sealer
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "master.keys")})
	require.NoError(t, err)
	return fixture{db: db, st: store.New(db, nil), seal: secrets.NewSealer(keys)}
}

func (f fixture) issuer(t *testing.T) *oidc.Issuer {
	t.Helper()
	i, err := oidc.New(oidc.Config{KV: f.db, Sealer: f.seal, Records: f.st, Issuer: "https://orbit.example.com/",
		Users: func(_ context.Context, login string) (string, error) { return "user-" + login, nil }})
	require.NoError(t, err)
	return i
}

// verify parses a token against the issuer's JWKS, as a cloud provider
// does: the key by kid, RS256 only, issuer and audience checked.
func verify(t *testing.T, i *oidc.Issuer, token, aud string) jwt.MapClaims {
	t.Helper()
	claims, err := parse(t, i, token, aud)
	require.NoError(t, err)
	return claims
}

func parse(t *testing.T, i *oidc.Issuer, token, aud string) (jwt.MapClaims, error) {
	t.Helper()
	set, err := i.JWKS(t.Context())
	require.NoError(t, err)
	b, err := json.Marshal(set) // through JSON, as it is served
	require.NoError(t, err)
	keys, err := oidc.ParseJWKS(b)
	require.NoError(t, err)
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		if k, ok := keys[tok.Header["kid"].(string)]; ok {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer("https://orbit.example.com"), jwt.WithAudience(aud),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	return claims, err
}

func TestJobTokensVerifyAgainstTheJWKSWithCircleCIsClaims(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	p, err := f.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: slug, Trigger: store.Trigger{Type: "api", Actor: "alice"},
		VCS: store.PipelineVCS{Branch: "main"}})
	require.NoError(t, err)
	c, err := f.st.CreateContext(ctx, store.Context{ID: "ctx-1", Owner: "gh/acme", Name: "aws"})
	require.NoError(t, err)
	spec := runner.TaskSpec{ProjectSlug: slug, PipelineID: p.ID, WorkflowID: "wf-1", JobID: "job-1"}
	i := f.issuer(t)
	require.NoError(t, i.AddTaskSecrets(ctx, &spec, []string{"aws"}))

	env := map[string]string{}
	for _, e := range spec.Environment {
		env[e.Name] = e.Value
	}
	require.Contains(t, env, oidc.EnvToken)
	require.Contains(t, env, oidc.EnvTokenV2)
	assert.Contains(t, spec.Secrets, env[oidc.EnvToken], "masked in output")
	assert.Contains(t, spec.Secrets, env[oidc.EnvTokenV2], "masked in output")

	orgID, projectID := ids.Org("gh/acme"), ids.Project(slug)
	claims := verify(t, i, env[oidc.EnvToken], orgID)
	sub := "org/" + orgID + "/project/" + projectID + "/user/user-alice"
	assert.Equal(t, sub, claims["sub"])
	assert.Equal(t, orgID, claims["aud"])
	assert.Equal(t, projectID, claims["oidc.circleci.com/project-id"])
	assert.Equal(t, []any{c.ID}, claims["oidc.circleci.com/context-ids"])
	assert.Equal(t, "github.com/acme/api", claims["oidc.circleci.com/vcs-origin"])
	assert.Equal(t, "refs/heads/main", claims["oidc.circleci.com/vcs-ref"])
	exp, err := claims.GetExpirationTime()
	require.NoError(t, err)
	iat, err := claims.GetIssuedAt()
	require.NoError(t, err)
	assert.Equal(t, time.Hour, exp.Sub(iat.Time))

	v2 := verify(t, i, env[oidc.EnvTokenV2], orgID)
	assert.Equal(t, sub+"/vcs-origin/github.com/acme/api/vcs-ref/refs/heads/main", v2["sub"])

	// A changed signature, or another audience, does not verify.
	tampered := env[oidc.EnvToken][:len(env[oidc.EnvToken])-4] + "AAAA"
	_, err = parse(t, i, tampered, orgID)
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	_, err = parse(t, i, env[oidc.EnvToken], "someone-else")
	assert.ErrorIs(t, err, jwt.ErrTokenInvalidAudience)
}

func TestCustomClaimsSetTheAudienceAndLifetime(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	i := f.issuer(t)
	orgID, projectID := ids.Org("gh/acme"), ids.Project(slug)
	org := oidc.Scope{OrgID: orgID}
	proj := oidc.Scope{OrgID: orgID, ProjectID: projectID}
	ttl := "2h"
	_, err := i.PatchClaims(ctx, org, oidc.Patch{Audience: []string{"sts.amazonaws.com"}, TTL: &ttl})
	require.NoError(t, err)
	short := "30m"
	got, err := i.PatchClaims(ctx, proj, oidc.Patch{TTL: &short})
	require.NoError(t, err)
	assert.Equal(t, "30m", got.TTL)
	assert.NotNil(t, got.TTLUpdatedAt)
	assert.Nil(t, got.Audience)

	v1, _, err := i.Tokens(ctx, oidc.Job{ProjectSlug: slug, UserID: "u", Branch: "main"})
	require.NoError(t, err)
	claims := verify(t, i, v1, "sts.amazonaws.com")
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	assert.Equal(t, 30*time.Minute, exp.Sub(iat.Time), "the project's ttl overrides the org's")

	_, err = i.DeleteClaims(ctx, proj, []string{"ttl"})
	require.NoError(t, err)
	_, err = i.DeleteClaims(ctx, org, []string{"audience"})
	require.NoError(t, err)
	v1, _, err = i.Tokens(ctx, oidc.Job{ProjectSlug: slug, UserID: "u", Tag: "v1.0"})
	require.NoError(t, err)
	claims = verify(t, i, v1, orgID)
	exp, _ = claims.GetExpirationTime()
	iat, _ = claims.GetIssuedAt()
	assert.Equal(t, 2*time.Hour, exp.Sub(iat.Time), "the org's ttl again")
	assert.Equal(t, "refs/tags/v1.0", claims["oidc.circleci.com/vcs-ref"])

	bad := []struct {
		name string
		p    oidc.Patch
	}{
		{"ttl not a duration", oidc.Patch{TTL: ptr("an hour")}},
		{"ttl too short", oidc.Patch{TTL: ptr("1m")}},
		{"ttl too long", oidc.Patch{TTL: ptr("2d")}},
		{"empty audience", oidc.Patch{Audience: []string{""}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := i.PatchClaims(ctx, org, tc.p)
			assert.ErrorIs(t, err, oidc.ErrInvalid)
		})
	}
	_, err = i.DeleteClaims(ctx, org, []string{"aud"})
	assert.ErrorIs(t, err, oidc.ErrInvalid)
}

func ptr[T any](v T) *T { return &v }

func TestTheSigningKeyIsMadeOnceAndKeptSealed(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	issuers := []*oidc.Issuer{f.issuer(t), f.issuer(t), f.issuer(t)}
	kids := make([]string, len(issuers))
	var wg sync.WaitGroup
	for n, i := range issuers {
		wg.Go(func() {
			set, err := i.JWKS(ctx)
			assert.NoError(t, err)
			kids[n] = set["keys"][0].KID
		})
	}
	wg.Wait()
	assert.Equal(t, kids[0], kids[1])
	assert.Equal(t, kids[0], kids[2])

	// The stored record holds no clear key: a fresh issuer on the same kv
	// signs tokens the first one's JWKS verifies.
	it, err := f.db.Get(ctx, "OIDC#KEY", "CURRENT")
	require.NoError(t, err)
	assert.NotContains(t, string(it.Data), "PRIVATE KEY")
	v1, _, err := f.issuer(t).Tokens(ctx, oidc.Job{ProjectSlug: slug, UserID: "u", Branch: "main"})
	require.NoError(t, err)
	verify(t, issuers[0], v1, ids.Org("gh/acme"))
}
