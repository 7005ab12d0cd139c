package dynamokv_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv/dynamokvtest"
	"github.com/orbit-ci/orbit/shared/kv/kvtest"
	"github.com/orbit-ci/orbit/shared/testenv"
	"github.com/orbit-ci/orbit/shared/testenv/awsthrottle"
)

var (
	client   = dynamokvtest.Client
	newTable = dynamokvtest.NewTable
)

func TestConformance(t *testing.T) {
	c := client(t)
	serial := dynamokvtest.Serial(c)
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := dynamokv.New(serial, dynamokv.Config{Table: newTable(t, c)})
		require.NoError(t, err)
		return s
	})
}

// throttles is how many attempts of every call the throttling front
// refuses: more than the SDK's DynamoDB default retries (3), within
// MinAttempts.
const throttles = 4

// portOps are the DynamoDB operations behind the kv port.
var portOps = []string{"DynamoDB.GetItem", "DynamoDB.PutItem", "DynamoDB.UpdateItem", "DynamoDB.DeleteItem",
	"DynamoDB.Query", "DynamoDB.TransactWriteItems"}

// TestConformanceThrottled runs the suite with the first 4 attempts of
// every request throttled (ProvisionedThroughputExceededException,
// ThrottlingException, RequestLimitExceeded in turn): each call is retried
// with backoff until it passes, and the suite's contract still holds:
// conditional writes apply once, concurrent increments lose none.
func TestConformanceThrottled(t *testing.T) {
	cfg := testenv.AWS(t, "ORBIT_DYNAMODB_ENDPOINT")
	front, err := awsthrottle.New(*cfg.BaseEndpoint, throttles, portOps...)
	require.NoError(t, err)
	t.Cleanup(front.Close)
	c := client(t)
	serial := dynamokvtest.Serial(dynamodb.NewFromConfig(front.Config(cfg)))
	t.Run("suite", func(t *testing.T) {
		kvtest.Run(t, func(t *testing.T) kv.Store {
			s, err := dynamokv.New(serial, dynamokv.Config{Table: newTable(t, c)})
			require.NoError(t, err)
			return s
		})
	})
	throttled := front.Throttled()
	for _, op := range portOps {
		assert.Positive(t, throttled[op], "%s was throttled and retried", op)
	}
}

// TestThrottlingBeyondTheRetriesSurfaces: a request still throttled after
// MinAttempts fails with DynamoDB's typed error, and was never applied.
func TestThrottlingBeyondTheRetriesSurfaces(t *testing.T) {
	cfg := testenv.AWS(t, "ORBIT_DYNAMODB_ENDPOINT")
	front, err := awsthrottle.New(*cfg.BaseEndpoint, dynamokv.MinAttempts, "DynamoDB.PutItem")
	require.NoError(t, err)
	t.Cleanup(front.Close)
	c := client(t)
	table := newTable(t, c)
	s, err := dynamokv.New(dynamodb.NewFromConfig(front.Config(cfg)), dynamokv.Config{Table: table})
	require.NoError(t, err)
	_, err = s.Put(t.Context(), kv.Item{PK: "p", SK: "s"}, kv.Condition{IfNotExists: true})
	require.Error(t, err)
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Contains(t, []string{"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}, api.ErrorCode())
	assert.NotErrorIs(t, err, kv.ErrConflict)
	assert.Equal(t, dynamokv.MinAttempts, front.Throttled()["DynamoDB.PutItem"], "MinAttempts attempts, then the error")
	_, err = s.Get(t.Context(), "p", "s")
	assert.ErrorIs(t, err, kv.ErrNotFound, "the throttled write was not applied")
}

func TestCreateTable(t *testing.T) {
	c := client(t)
	name := newTable(t, c)

	out, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	require.NoError(t, err)
	table := out.Table
	assert.Equal(t, types.TableStatusActive, table.TableStatus)
	assert.Equal(t, types.BillingModePayPerRequest, table.BillingModeSummary.BillingMode)
	assert.Equal(t, []types.KeySchemaElement{
		{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
	}, table.KeySchema)
	indexes := map[string][]types.KeySchemaElement{}
	for _, gsi := range table.GlobalSecondaryIndexes {
		assert.Equal(t, types.ProjectionTypeAll, gsi.Projection.ProjectionType, *gsi.IndexName)
		indexes[*gsi.IndexName] = gsi.KeySchema
	}
	for _, name := range []string{"GSI1", "GSI2"} {
		assert.Equal(t, []types.KeySchemaElement{
			{AttributeName: aws.String(name + "PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(name + "SK"), KeyType: types.KeyTypeRange},
		}, indexes[name])
	}

	ttl, err := c.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	require.NoError(t, err)
	assert.Equal(t, "TTL", aws.ToString(ttl.TimeToLiveDescription.AttributeName))
	assert.Contains(t, []types.TimeToLiveStatus{types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling},
		ttl.TimeToLiveDescription.TimeToLiveStatus)

	assert.Error(t, dynamokv.CreateTable(t.Context(), c, name), "the table exists")
}

func TestNew(t *testing.T) {
	_, err := dynamokv.New(nil, dynamokv.Config{Table: "t"})
	assert.Error(t, err)
	_, err = dynamokv.New(&dynamodb.Client{}, dynamokv.Config{})
	assert.Error(t, err)
}
