package dynamokv

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// CounterPrefix starts the attribute name of each counter of a counter item:
// counter "pipeline" is the number attribute C_pipeline.
const CounterPrefix = "C_"

// Add adds delta to a counter with one UpdateItem "ADD C_<counter> :delta":
// DynamoDB applies it atomically on its side, so concurrent Adds never
// conflict and never retry (no read, no condition). It returns the value
// the update produced.
func (s *Store) Add(ctx context.Context, pk, sk, counter string, delta int64) (int64, error) {
	n, err := s.add(ctx, pk, sk, counter, delta)
	if err != nil {
		return 0, fmt.Errorf("dynamokv: add to %s of %s/%s: %w", counter, pk, sk, err)
	}
	return n, nil
}

func (s *Store) add(ctx context.Context, pk, sk, counter string, delta int64) (int64, error) {
	if err := kvreq.Counter(pk, sk, counter); err != nil {
		return 0, err
	}
	e := newExpr(s.now())
	attr := CounterPrefix + counter
	update := fmt.Sprintf("ADD %s %s, %s %s", e.name(attr), e.value(num(delta)), e.name(AttrVersion), e.value(num(1)))
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       primaryKey(pk, sk),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
		// ALL_NEW rather than UPDATED_NEW: an ADD of 0 changes nothing,
		// and UPDATED_NEW leaves unchanged attributes out.
		ReturnValues: types.ReturnValueAllNew,
	}, retries, retryTransactionConflicts)
	if err != nil {
		return 0, err
	}
	return number(out.Attributes, attr)
}
