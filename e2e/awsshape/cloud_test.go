package awsshape

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/internal/compose"
	"github.com/orbit-ci/orbit/shared/blob/s3blob/s3blobtest"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/shared/testenv"
	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/sfnhttp"
)

// counter is a reverse proxy in front of moto_server that counts the AWS
// requests of every process (the Lambdas, the bridge, the agents' presigned
// transfers) by service and operation. Presigned GETs get S3's response-*
// overrides there (s3blobtest.ResponseOverrides), which moto 5.2.1 ignores.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

var scope = regexp.MustCompile(`Credential=[^/]+/\d+/[^/]+/([a-z0-9-]+)/aws4_request`)

func (c *counter) count(r *http.Request) {
	service := "unknown"
	if m := scope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		service = m[1]
	} else if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
		if parts := strings.Split(cred, "/"); len(parts) >= 4 {
			service = parts[3] + " (presigned)"
		}
	}
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	if op == "" {
		op = r.Method
		if service == "monitoring" {
			_ = r.ParseForm()
			op = r.Form.Get("Action")
		}
	}
	c.mu.Lock()
	c.counts[service+" "+op]++
	c.mu.Unlock()
}

// snapshot returns the counts so far, sorted by key.
func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cloud is the emulated AWS account of one test: fresh resources in moto
// behind the counting proxy, and the three state machines in
// statemachines/local served as Step Functions.
type cloud struct {
	t        testing.TB
	aws      *counter
	endpoint string // the counting proxy: every process's ORBIT_AWS_ENDPOINT
	sfnURL   string
	engine   *local.Engine
	started  chan string // execution ARNs StartExecution returned
	env      []string    // the aws shape's settings, as the CDK app sets them
	secret   string
}

func newCloud(t testing.TB, conductor *functionRef) *cloud {
	t.Helper()
	moto := testenv.Need(t, "ORBIT_MOTO_ENDPOINT", "start moto_server (make test does)")
	target, err := url.Parse(moto)
	require.NoError(t, err)
	c := &cloud{t: t, aws: &counter{counts: map[string]int{}}, started: make(chan string, 1000)}
	proxy := s3blobtest.ResponseOverrides(httputil.NewSingleHostReverseProxy(target))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.aws.count(r)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.endpoint = srv.URL

	ctx := context.Background()
	cfg := testenv.AWS(t, "ORBIT_MOTO_ENDPOINT")
	suffix := randomSuffix()
	table, bucket := "orbit-"+suffix, "orbit-"+suffix
	require.NoError(t, dynamokv.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table))
	_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orbit-run-" + suffix)})
	require.NoError(t, err)
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	require.NoError(t, err)
	c.secret = "s" + suffix + strings.Repeat("x", 40)
	sec, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("orbit-signing-" + suffix), SecretString: aws.String(c.secret)})
	require.NoError(t, err)

	// The state machines, with the definitions and substitutions the CDK
	// app deploys; their lambda:invoke tasks call the conductor's Invoke API.
	e, err := local.New(local.Config{Region: "us-east-1", Account: "123456789012",
		Invoker: &local.HTTPInvoker{Endpoints: map[string]string{"": "http://conductor" + invokePath}, Client: &http.Client{Transport: conductor}}})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	m, err := compose.DefineMachines(e, nil)
	require.NoError(t, err)
	c.engine = e
	api := sfnhttp.Handler(e)
	sfnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, r)
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".StartExecution") && rec.Code == 200 {
			if m := regexp.MustCompile(`"executionArn":"([^"]+)"`).FindSubmatch(rec.Body.Bytes()); m != nil {
				select {
				case c.started <- string(m[1]):
				default:
				}
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(sfnSrv.Close)
	c.sfnURL = sfnSrv.URL

	c.env = []string{
		"ORBIT_SHAPE=aws", "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"ORBIT_AWS_ENDPOINT=" + c.endpoint, "ORBIT_SFN_ENDPOINT=" + c.sfnURL, "ORBIT_CLOUDWATCH_QUERY=1",
		"ORBIT_TABLE=" + table, "ORBIT_BUCKET=" + bucket, "ORBIT_RUN_QUEUE_URL=" + aws.ToString(q.QueueUrl),
		"ORBIT_KMS_KEY_ID=" + aws.ToString(key.KeyMetadata.KeyId),
		"ORBIT_SIGNING_SECRET_ARN=" + aws.ToString(sec.ARN),
		"ORBIT_PIPELINE_MACHINE=" + m.Pipeline, "ORBIT_WORKFLOW_MACHINE=" + m.Workflow, "ORBIT_JOB_MACHINE=" + m.Job,
		"ORBIT_LOG_LEVEL=debug",
	}
	return c
}

// functionRef lets the engine's invoker reach a function pool started after
// the engine (the conductor needs the machines' ARNs in its settings).
type functionRef struct{ f *function }

func (r *functionRef) RoundTrip(req *http.Request) (*http.Response, error) { return r.f.RoundTrip(req) }

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
