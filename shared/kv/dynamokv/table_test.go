package dynamokv_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
)

// fakeDynamo answers the calls CreateTable makes, the first CreateTable
// with a 500 after "creating" the table (an answer lost on the way), as an
// emulator under load can.
type fakeDynamo struct {
	mu      sync.Mutex
	exists  bool
	creates int
	lose    bool // lose the answer of the first CreateTable
}

func (f *fakeDynamo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	switch op {
	case "CreateTable":
		f.creates++
		if f.exists {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException","message":"Table already exists: t"}`)
			return
		}
		f.exists = true
		if f.lose {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"lost"}`)
			return
		}
		_, _ = io.WriteString(w, `{"TableDescription":{"TableName":"t","TableStatus":"CREATING"}}`)
	case "DescribeTable":
		_, _ = io.WriteString(w, `{"Table":{"TableName":"t","TableStatus":"ACTIVE"}}`)
	case "UpdateTimeToLive":
		_, _ = io.WriteString(w, `{"TimeToLiveSpecification":{"AttributeName":"TTL","Enabled":true}}`)
	default:
		http.Error(w, "unexpected "+op, http.StatusNotImplemented)
	}
}

func fakeClient(t *testing.T, f *fakeDynamo) *dynamodb.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
	})
}

// TestCreateTableAfterALostAnswer: the SDK sends CreateTable again after a
// 500 whose attempt did create the table; that table is this call's, so
// CreateTable succeeds. Without a retry, an existing table is an error.
func TestCreateTableAfterALostAnswer(t *testing.T) {
	lost := &fakeDynamo{lose: true}
	require.NoError(t, dynamokv.CreateTable(t.Context(), fakeClient(t, lost), "t"))
	assert.Equal(t, 2, lost.creates, "the SDK retried the call whose answer was lost")

	exists := &fakeDynamo{exists: true}
	err := dynamokv.CreateTable(t.Context(), fakeClient(t, exists), "t")
	require.Error(t, err, "a table that existed before the call")
	assert.Contains(t, err.Error(), "ResourceInUseException")
	assert.Equal(t, 1, exists.creates)
}
