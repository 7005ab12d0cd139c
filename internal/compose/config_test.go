package compose

import (
	"bytes"
	"context"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnv(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "embedded defaults",
			env:  map[string]string{},
			check: func(t *testing.T, c Config) {
				assert.Equal(t, Embedded, c.Shape)
				assert.Equal(t, ".orbit", c.DataDir)
				assert.Equal(t, 5*time.Hour, c.JobTimeout)
				assert.Equal(t, 2*time.Second, c.HeartbeatInterval)
				assert.InDelta(t, 0.05, c.ResourceScale, 1e-9)
				assert.Equal(t, "text", c.LogFormat)
				assert.Empty(t, c.Secret)
			},
		},
		{
			name: "aws defaults and resources",
			env: map[string]string{
				"ORBIT_SHAPE": "aws", "ORBIT_TABLE": "t", "ORBIT_BUCKET": "b", "ORBIT_RUN_QUEUE_URL": "q",
				"ORBIT_KMS_KEY_ID": "alias/k", "ORBIT_SECRET": base64.StdEncoding.EncodeToString(secret),
				"AWS_REGION": "eu-west-1", "ORBIT_JOB_MACHINE": "arn:job",
			},
			check: func(t *testing.T, c Config) {
				assert.Equal(t, AWS, c.Shape)
				assert.Equal(t, 30*time.Second, c.HeartbeatInterval)
				assert.InDelta(t, 1.0, c.ResourceScale, 1e-9)
				assert.Equal(t, "json", c.LogFormat)
				assert.Equal(t, AWSConfig{Region: "eu-west-1", Table: "t", Bucket: "b", RunQueueURL: "q", KMSKeyID: "alias/k", JobMachine: "arn:job"}, c.AWS)
				assert.Equal(t, secret, c.Secret)
			},
		},
		{name: "unknown shape", env: map[string]string{"ORBIT_SHAPE": "gcp"}, wantErr: `ORBIT_SHAPE="gcp"`},
		{name: "bad job timeout", env: map[string]string{"ORBIT_JOB_TIMEOUT": "5 hours"}, wantErr: "ORBIT_JOB_TIMEOUT"},
		{name: "negative heartbeat", env: map[string]string{"ORBIT_HEARTBEAT_INTERVAL": "-1s"}, wantErr: "ORBIT_HEARTBEAT_INTERVAL"},
		{name: "bad scale", env: map[string]string{"ORBIT_RESOURCE_SCALE": "x"}, wantErr: "ORBIT_RESOURCE_SCALE"},
		{name: "short secret", env: map[string]string{"ORBIT_SECRET": base64.StdEncoding.EncodeToString([]byte("short"))}, wantErr: "ORBIT_SECRET"},
		{name: "secret not base64", env: map[string]string{"ORBIT_SECRET": "%%%"}, wantErr: "ORBIT_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(env(tt.env))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestDeriveKeys(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	k, err := DeriveKeys(secret)
	require.NoError(t, err)
	all := [][]byte{k.RunnerTokens, k.BlobURLs, k.TaskFiles, k.Sessions}
	for i, a := range all {
		assert.Len(t, a, 32)
		assert.NotEqual(t, secret, a, "a derived key is not the secret")
		for _, b := range all[i+1:] {
			assert.NotEqual(t, a, b, "each use has its own key")
		}
	}
	again, err := DeriveKeys(secret)
	require.NoError(t, err)
	assert.Equal(t, k, again, "derivation is deterministic: every process of an installation agrees")
	other, err := DeriveKeys(bytes.Repeat([]byte{2}, 32))
	require.NoError(t, err)
	assert.NotEqual(t, k.RunnerTokens, other.RunnerTokens)

	_, err = DeriveKeys(secret[:31])
	assert.ErrorContains(t, err, "at least 32")
}

// TestAWSSettingsNamed: a part of the aws shape whose resource is not
// configured fails with the variable's name, before any AWS call.
func TestAWSSettingsNamed(t *testing.T) {
	a, err := New(context.Background(), Config{Shape: AWS, AWS: AWSConfig{Region: "us-east-1"}}, "test", nil)
	require.NoError(t, err)
	defer a.Close()
	_, err = a.Store()
	assert.ErrorContains(t, err, "ORBIT_TABLE")
	_, err = a.Blobs()
	assert.ErrorContains(t, err, "ORBIT_BUCKET")
	_, err = a.RunQueue()
	assert.ErrorContains(t, err, "ORBIT_RUN_QUEUE_URL")
	_, err = a.Tokens()
	assert.ErrorContains(t, err, "ORBIT_SECRET")
	_, err = a.Bridge("http://127.0.0.1:4646", "http://127.0.0.1:8081"+WarmPath)
	assert.ErrorContains(t, err, "ORBIT_RUN_QUEUE_URL")
	a.cfg.AWS.Table, a.cfg.Secret = "t", bytes.Repeat([]byte{1}, 32)
	_, err = a.Conductor()
	assert.ErrorContains(t, err, "ORBIT_PIPELINE_MACHINE, ORBIT_WORKFLOW_MACHINE, ORBIT_JOB_MACHINE")
}

func TestEmbeddedKeysPerUse(t *testing.T) {
	dir := t.TempDir()
	a, err := New(context.Background(), Config{Shape: Embedded, DataDir: dir, BaseURL: "http://127.0.0.1:1"}, "test", nil)
	require.NoError(t, err)
	keys, err := a.Keys()
	require.NoError(t, err)
	a.Close()
	// A second start reads the same installation secret, so tokens signed
	// before a restart still verify.
	b, err := New(context.Background(), Config{Shape: Embedded, DataDir: dir}, "test", nil)
	require.NoError(t, err)
	defer b.Close()
	again, err := b.Keys()
	require.NoError(t, err)
	assert.Equal(t, keys, again)
	tokens, err := b.Tokens()
	require.NoError(t, err)
	id, err := tokens.Verify(tokens.Sign("task-1", time.Now().Add(time.Hour)))
	require.NoError(t, err)
	assert.Equal(t, "task-1", id)
}

// TestSigningSecretFromSecretsManager: in the aws shape without
// ORBIT_SECRET, New reads the installation secret from the Secrets Manager
// secret the CDK app names; a missing secret fails the start naming the
// setting.
func TestSigningSecretFromSecretsManager(t *testing.T) {
	endpoint := testenv.Need(t, "ORBIT_MOTO_ENDPOINT", "start moto_server (make test does)")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(testenv.AWS(t, "ORBIT_MOTO_ENDPOINT"))
	value := "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ01"
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("orbit-signing-" + strconv.FormatInt(time.Now().UnixNano(), 36)), SecretString: aws.String(value)})
	require.NoError(t, err)
	short, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("orbit-short-" + strconv.FormatInt(time.Now().UnixNano(), 36)), SecretString: aws.String("short")})
	require.NoError(t, err)

	cfg := Config{Shape: AWS, AWS: AWSConfig{Region: "us-east-1", Endpoint: endpoint, SigningSecretARN: aws.ToString(out.ARN)}}
	a, err := New(ctx, cfg, "test", nil)
	require.NoError(t, err)
	defer a.Close()
	keys, err := a.Keys()
	require.NoError(t, err)
	want, err := DeriveKeys([]byte(value))
	require.NoError(t, err)
	assert.Equal(t, want, keys, "the keys derive from the secret's value")

	for name, arn := range map[string]string{
		"missing": "arn:aws:secretsmanager:us-east-1:123456789012:secret:orbit-none-AbCdEf",
		"short":   aws.ToString(short.ARN),
	} {
		cfg.AWS.SigningSecretARN = arn
		_, err := New(ctx, cfg, "test", nil)
		assert.ErrorContains(t, err, "ORBIT_SIGNING_SECRET_ARN="+arn, name)
	}
}
