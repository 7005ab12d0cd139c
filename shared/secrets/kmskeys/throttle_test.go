package kmskeys_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/secrets/kmskeys"
	"github.com/orbit-ci/orbit/shared/testenv"
	"github.com/orbit-ci/orbit/shared/testenv/awsthrottle"
)

// TestThrottledDataKeysRoundTrip: with the first 2 attempts of every
// data-key request answered ThrottlingException, the SDK's standard retryer
// (3 attempts, which kmskeys leaves as they are) retries each with backoff,
// and every data key still unwraps to itself. (The whole suite through the
// front would double its ~2,000 Decrypt calls on moto for no more cover.)
func TestThrottledDataKeysRoundTrip(t *testing.T) {
	cfg := testenv.AWS(t, "ORBIT_MOTO_ENDPOINT")
	ops := []string{"KMS.GenerateDataKey", "KMS.Decrypt"}
	front, err := awsthrottle.New(*cfg.BaseEndpoint, 2, ops...)
	require.NoError(t, err)
	t.Cleanup(front.Close)
	_, alias := newKey(t, client(t))
	k, err := kmskeys.New(motoClient{kms.NewFromConfig(front.Config(cfg))}, kmskeys.Config{KeyID: alias})
	require.NoError(t, err)
	const n = 10
	for i := range n {
		aad := map[string]string{"scope": fmt.Sprint("project-", i)}
		dk, err := k.GenerateDataKey(t.Context(), aad)
		require.NoError(t, err)
		plain, err := k.DecryptDataKey(t.Context(), dk.KeyID, dk.Wrapped, aad)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(dk.Plaintext, plain), "data key %d unwraps to itself", i)
	}
	for _, op := range ops {
		assert.Equal(t, 2*n, front.Throttled()[op], "%s: each call throttled twice", op)
		assert.Equal(t, n, front.Passed()[op], "%s: each call reached KMS once", op)
	}
}
