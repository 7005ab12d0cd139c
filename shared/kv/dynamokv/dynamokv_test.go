package dynamokv_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv/dynamokvtest"
	"github.com/orbit-ci/orbit/shared/kv/kvtest"
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
