package dynamokv

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orbit-ci/orbit/shared/kv"
)

// TableAPI is the part of the DynamoDB API CreateTable uses;
// *dynamodb.Client satisfies it.
type TableAPI interface {
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, params *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ TableAPI = (*dynamodb.Client)(nil)

// TableCreateTimeout bounds how long CreateTable waits for the table to
// become ACTIVE.
const TableCreateTimeout = 5 * time.Minute

// CreateTable creates the table a Store expects, waits until it is ACTIVE
// and enables TTL on attribute TTL:
//
//	keys      PK (HASH, S), SK (RANGE, S)
//	GSI1      GSI1PK (HASH, S), GSI1SK (RANGE, S), projection ALL
//	GSI2      GSI2PK (HASH, S), GSI2SK (RANGE, S), projection ALL
//	billing   PAY_PER_REQUEST
//	TTL       attribute TTL
//
// It fails if the table exists, except when the SDK sent the call again
// after an attempt whose answer was lost: then "already exists" is that
// attempt's table, and CreateTable goes on (seen on moto under load).
// Production tables come from the CDK app,
// which must declare the same; this is for tests and local setups.
func CreateTable(ctx context.Context, client TableAPI, name string) error {
	attrs := []types.AttributeDefinition{}
	for _, a := range []string{AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK, AttrGSI2PK, AttrGSI2SK} {
		attrs = append(attrs, types.AttributeDefinition{AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS})
	}
	keys := func(pk, sk string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
		}
	}
	gsi := func(index kv.Index) types.GlobalSecondaryIndex {
		pk, sk := indexKeys(index)
		return types.GlobalSecondaryIndex{
			IndexName:  aws.String(string(index)),
			KeySchema:  keys(pk, sk),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	var retries atomic.Int32
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:              aws.String(name),
		BillingMode:            types.BillingModePayPerRequest,
		AttributeDefinitions:   attrs,
		KeySchema:              keys(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{gsi(kv.GSI1), gsi(kv.GSI2)},
	}, func(o *dynamodb.Options) {
		if o.Retryer != nil {
			o.Retryer = countRetries{Retryer: o.Retryer, n: &retries}
		}
	})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) && retries.Load() > 0 {
		err = nil // an earlier attempt of this call created it
	}
	if err != nil {
		return fmt.Errorf("dynamokv: create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 10*time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, TableCreateTimeout); err != nil {
		return fmt.Errorf("dynamokv: wait for table %s: %w", name, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamokv: enable TTL on table %s: %w", name, err)
	}
	return nil
}

// countRetries is a Retryer that counts the retries it allows.
type countRetries struct {
	aws.Retryer
	n *atomic.Int32
}

func (r countRetries) RetryDelay(attempt int, err error) (time.Duration, error) {
	r.n.Add(1)
	return r.Retryer.RetryDelay(attempt, err)
}
