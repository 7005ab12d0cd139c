package s3blob_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/blobtest"
	"github.com/orbit-ci/orbit/shared/blob/s3blob"
	"github.com/orbit-ci/orbit/shared/blob/s3blob/s3blobtest"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// newStore serves a fresh in-memory S3 and returns a store on a bucket in
// it.
func newStore(t *testing.T) *s3blob.Store {
	t.Helper()
	return s3blobtest.NewServer(t).NewStore(t)
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t) })
}

func TestMapsErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{name: "NoSuchKey", err: &types.NoSuchKey{}, want: blob.ErrNotFound},
		{name: "NotFound", err: &types.NotFound{}, want: blob.ErrNotFound},
		{name: "InvalidRange code", err: &smithy.GenericAPIError{Code: "InvalidRange"}, want: blob.ErrInvalidRange},
		{name: "other", err: &smithy.GenericAPIError{Code: "AccessDenied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := s3blob.New(failing{tc.err}, s3.NewPresignClient(s3.New(s3.Options{Region: "us-east-1"})), "b")
			require.NoError(t, err)
			_, _, err = s.Get(t.Context(), "k", nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.err, "the SDK error stays in the chain")
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			} else {
				assert.False(t, errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrInvalidRange))
			}
		})
	}
}

// failing answers every call with err.
type failing struct{ err error }

func (f failing) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, f.err
}

func (f failing) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, f.err
}

func (f failing) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, f.err
}

func (f failing) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return nil, f.err
}

func (f failing) DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return nil, f.err
}

func TestNewRejectsBadConfig(t *testing.T) {
	client := s3.New(s3.Options{Region: "us-east-1"})
	p := s3.NewPresignClient(client)
	_, err := s3blob.New(nil, p, "b")
	assert.Error(t, err)
	_, err = s3blob.New(client, nil, "b")
	assert.Error(t, err)
	_, err = s3blob.New(client, p, "")
	assert.Error(t, err)
}

// TestConformanceMoto runs the suite against moto_server, a second S3
// implementation, behind s3blobtest's presigned-URL check and response
// overrides (moto 5.2.1 checks no query signature and ignores response-*
// parameters: s3blobtest.NewMotoServer says which).
func TestConformanceMoto(t *testing.T) {
	endpoint := testenv.Need(t, "ORBIT_MOTO_ENDPOINT", "start moto_server (make test does)")
	srv := s3blobtest.NewMotoServer(t, endpoint)
	blobtest.Run(t, func(t *testing.T) blob.Store { return srv.NewStore(t) })
}
