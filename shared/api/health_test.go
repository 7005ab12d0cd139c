package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
)

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		checks     map[string]error
		wantCode   int
		wantHealth string
		wantStatus string
	}{
		{name: "no checks", wantCode: http.StatusOK, wantHealth: `{"status":"ok"}`,
			wantStatus: `{"status":"ok","version":"1.2.3-test","dependencies":{}}`},
		{name: "all healthy", checks: map[string]error{"kv": nil, "queue": nil}, wantCode: http.StatusOK,
			wantHealth: `{"status":"ok"}`,
			wantStatus: `{"status":"ok","version":"1.2.3-test","dependencies":{"kv":"ok","queue":"ok"}}`},
		{name: "one failing", checks: map[string]error{"kv": nil, "queue": errors.New("dial tcp: refused"), "nomad": errors.New("no leader")},
			wantCode:   http.StatusInternalServerError,
			wantHealth: `{"status":"unhealthy","message":"unhealthy dependencies: nomad, queue","failed":["nomad","queue"]}`,
			wantStatus: `{"status":"unhealthy","version":"1.2.3-test","dependencies":{"kv":"ok","queue":"dial tcp: refused","nomad":"no leader"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *api.Config) {
				if tc.checks != nil {
					c.Health = func(ctx context.Context) map[string]error {
						_, hasDeadline := ctx.Deadline()
						assert.True(t, hasDeadline, "checks are bounded")
						return tc.checks
					}
				}
			})
			rec := e.do(http.MethodGet, "/health-check", "")
			require.Equal(t, tc.wantCode, rec.Code)
			assert.JSONEq(t, tc.wantHealth, rec.Body.String())

			rec = e.do(http.MethodGet, "/status", "")
			require.Equal(t, tc.wantCode, rec.Code)
			assert.JSONEq(t, tc.wantStatus, rec.Body.String())
		})
	}
}
