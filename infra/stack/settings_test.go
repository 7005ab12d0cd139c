package stack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ctx(m map[string]any) ContextReader {
	return func(k string) (any, bool) { v, ok := m[k]; return v, ok }
}

func noEnv(string) string { return "" }

func TestSettingsDefaults(t *testing.T) {
	s, err := SettingsFromContext(ctx(map[string]any{"region": "us-east-1"}), noEnv)
	require.NoError(t, err)
	assert.Equal(t, "orbit", s.Name)
	assert.Equal(t, 30, s.RetentionDays)
	assert.Equal(t, "m5.2xlarge", s.NomadClients.InstanceType)
	assert.Equal(t, s.NomadClients.Min, s.NomadClients.WorkingMin)
	assert.Equal(t, "github", s.Auth)
	assert.Equal(t, "Orbit", s.MetricsNamespace)
}

func TestSettingsRegionFromEnvironment(t *testing.T) {
	s, err := SettingsFromContext(ctx(nil), func(k string) string {
		return map[string]string{"CDK_DEFAULT_REGION": "eu-central-1", "CDK_DEFAULT_ACCOUNT": "210987654321"}[k]
	})
	require.NoError(t, err)
	assert.Equal(t, "eu-central-1", s.Region)
	assert.Equal(t, "210987654321", s.Account)
}

// TestSettingsErrors: a wrong or missing setting fails with its key named.
func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		want []string
	}{
		{"no region", map[string]any{}, []string{"region:"}},
		{"bad instance type", map[string]any{"nomadClientInstanceType": "big"}, []string{`nomadClientInstanceType: "big"`}},
		{"max below min", map[string]any{"nomadClientMin": "4", "nomadClientMax": "2"}, []string{"nomadClientMax: 2"}},
		{"not a number", map[string]any{"retentionDays": "month"}, []string{`retentionDays: "month" is not a whole number`}},
		{"working min above max", map[string]any{"nomadClientWorkingMin": "20"}, []string{"nomadClientWorkingMin: 20"}},
		{"bad time zone", map[string]any{"nomadClientTimeZone": "Mars/Base"}, []string{"nomadClientTimeZone"}},
		{"domain without certificate", map[string]any{"domain": "ci.example.com"}, []string{"certificateArn:"}},
		{"certificate without domain", map[string]any{"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"}, []string{"domain: is required with certificateArn"}},
		{"vpc without subnets", map[string]any{"vpcId": "vpc-0123456789abcdef0"}, []string{"privateSubnetIds:", "availabilityZones:"}},
		{"ldap without fields", map[string]any{"auth": "ldap"}, []string{"ldapUrl:", "ldapSearchUser:", "ldapUserSearchDn:"}},
		{"unknown auth", map[string]any{"auth": "saml"}, []string{`auth: "saml"`}},
		{"github over http", map[string]any{"githubUrl": "http://ghe.example.com"}, []string{"githubUrl:"}},
		{"reserved namespace", map[string]any{"metricsNamespace": "AWS/Orbit"}, []string{"metricsNamespace:"}},
		{"bad bool", map[string]any{"vmPublicAccess": "yes please"}, []string{"vmPublicAccess:"}},
		{"audit shorter than retention", map[string]any{"retentionDays": "90", "auditRetentionDays": "30"}, []string{"auditRetentionDays: 30"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := map[string]any{"region": "us-east-1"}
			if tc.name == "no region" {
				delete(c, "region")
			}
			for k, v := range tc.ctx {
				c[k] = v
			}
			_, err := SettingsFromContext(ctx(c), noEnv)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestSettingsListsEveryError: one synth shows every bad key.
func TestSettingsListsEveryError(t *testing.T) {
	_, err := SettingsFromContext(ctx(map[string]any{"region": "nowhere", "maxAzs": "9", "warmAgents": "-1"}), noEnv)
	require.Error(t, err)
	for _, k := range []string{"region:", "maxAzs:", "warmAgents:"} {
		assert.Contains(t, err.Error(), k)
	}
}

// TestArtifactsCheck: a synth outside the tests, without the built files,
// fails naming the make target that builds each.
func TestArtifactsCheck(t *testing.T) {
	root := t.TempDir()
	err := DefaultArtifacts(root).Check()
	require.Error(t, err)
	for _, want := range []string{"api.zip is missing: run `make lambdas`", "conductor.zip", "cron.zip", "orbit-linux-amd64 is missing: run `make dist`", "orbit-agent-linux-amd64 is missing: run `make dist`", "nomad is missing: run `make tools`"} {
		assert.Contains(t, err.Error(), want)
	}
	a := DefaultArtifacts(root)
	require.NoError(t, os.MkdirAll(a.LambdaDir, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Dir(a.OrbitBinary), 0o755))
	for _, p := range []string{filepath.Join(a.LambdaDir, "api.zip"), filepath.Join(a.LambdaDir, "conductor.zip"), filepath.Join(a.LambdaDir, "cron.zip"), a.OrbitBinary, a.AgentBinary, a.NomadBinary} {
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
	}
	assert.NoError(t, a.Check())
}
