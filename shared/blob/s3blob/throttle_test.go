package s3blob_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/blobtest"
	"github.com/orbit-ci/orbit/shared/blob/s3blob/s3blobtest"
	"github.com/orbit-ci/orbit/shared/testenv/awsthrottle"
)

// TestConformanceThrottled runs the suite with the first 2 attempts of
// every S3 request answered 503 SlowDown: the SDK's standard retryer (3
// attempts, which s3blob leaves as they are) retries each with backoff and
// the suite's contract still holds.
func TestConformanceThrottled(t *testing.T) {
	srv := s3blobtest.NewServer(t)
	front, err := awsthrottle.New(srv.URL, 2)
	require.NoError(t, err)
	t.Cleanup(front.Close)
	cfg := front.Config(aws.Config{Region: s3blobtest.Region,
		Credentials: credentials.StaticCredentialsProvider{Value: s3blobtest.Creds}})
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	t.Run("suite", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) blob.Store {
			store, _ := s3blobtest.NewBucket(t, client)
			return store
		})
	})
	throttled := front.Throttled()
	for _, op := range []string{"S3.PUT", "S3.GET", "S3.HEAD", "S3.DELETE"} {
		assert.Positive(t, throttled[op], "%s was throttled and retried", op)
	}
}
