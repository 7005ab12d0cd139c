package dynamokv

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// maxTransactAttempts bounds the retries of a transaction that DynamoDB
// cancelled without any caller condition failing: a collision with another
// transaction (TransactionConflict), or an unconditional put whose guess
// about its item's expiry was wrong.
const maxTransactAttempts = 8

// Transact applies ops with one TransactWriteItems, all or nothing.
//
// An unconditional put is first sent as an Update guarded by "the stored
// item has not expired" (as in Put). If DynamoDB cancels the transaction
// because such a guard failed and no caller condition did, the put is
// switched to "replace the expired item" and the transaction is retried.
func (s *Store) Transact(ctx context.Context, ops []kv.Op) error {
	if err := s.transact(ctx, ops); err != nil {
		return fmt.Errorf("dynamokv: transact: %w", err)
	}
	return nil
}

func (s *Store) transact(ctx context.Context, ops []kv.Op) error {
	if err := kvreq.Ops(ops); err != nil {
		return err
	}
	// replacing[i] says op i, an unconditional put, assumes its stored
	// item has expired.
	replacing := make([]bool, len(ops))
	backoff := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		items, opOf := s.transactItems(ops, replacing, s.now())
		if len(items) == 0 {
			return nil
		}
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems:      items,
			ClientRequestToken: aws.String(crand.Text()),
		}, retries)
		if err == nil {
			return nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) {
			return err
		}
		retry, conflict := false, false
		for i, reason := range cancelled.CancellationReasons {
			switch code := aws.ToString(reason.Code); code {
			case "", "None":
			case "ConditionalCheckFailed":
				if i >= len(opOf) {
					conflict = true
					break
				}
				if op := ops[opOf[i]]; op.Kind == kv.OpPut && op.Cond == (kv.Condition{}) {
					replacing[opOf[i]] = !replacing[opOf[i]]
					retry = true
				} else {
					failed := fmt.Errorf("operation %d on %s/%s", opOf[i], op.Item.PK, op.Item.SK)
					return fmt.Errorf("%w: %w: %w", failed, kv.ErrConflict, err)
				}
			case "TransactionConflict":
				retry = true
			default:
				return err
			}
		}
		if conflict || len(cancelled.CancellationReasons) == 0 {
			// DynamoDB always gives the reasons; without them a failed
			// condition is the only cancellation a caller can act on.
			return fmt.Errorf("%w: %w", kv.ErrConflict, err)
		}
		if !retry || attempt == maxTransactAttempts {
			return err
		}
		wait := backoff/2 + rand.N(backoff)
		backoff *= 2
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// transactItems translates ops; opOf maps each request item back to its op
// (an OpCheck under the zero Condition needs no request item).
func (s *Store) transactItems(ops []kv.Op, replacing []bool, now time.Time) ([]types.TransactWriteItem, []int) {
	items := make([]types.TransactWriteItem, 0, len(ops))
	opOf := make([]int, 0, len(ops))
	for i, op := range ops {
		e := newExpr(now)
		var item types.TransactWriteItem
		switch op.Kind {
		case kv.OpPut:
			it := kvreq.Normalize(op.Item)
			switch {
			case op.Cond != (kv.Condition{}):
				it.Version = 1
				if op.Cond.IfVersion != 0 {
					it.Version = op.Cond.IfVersion + 1
				}
				item.Put = &types.Put{TableName: s.table, Item: encodeItem(it), ConditionExpression: e.condition(op.Cond)}
			case replacing[i]:
				it.Version = 1
				item.Put = &types.Put{TableName: s.table, Item: encodeItem(it), ConditionExpression: aws.String(e.expired())}
			default:
				update := e.update(it)
				item.Update = &types.Update{
					TableName:           s.table,
					Key:                 primaryKey(it.PK, it.SK),
					UpdateExpression:    aws.String(update),
					ConditionExpression: aws.String(e.live()),
				}
			}
		case kv.OpDelete:
			item.Delete = &types.Delete{TableName: s.table, Key: primaryKey(op.Item.PK, op.Item.SK), ConditionExpression: e.condition(op.Cond)}
		case kv.OpCheck:
			cond := e.condition(op.Cond)
			if cond == nil {
				continue
			}
			item.ConditionCheck = &types.ConditionCheck{TableName: s.table, Key: primaryKey(op.Item.PK, op.Item.SK), ConditionExpression: cond}
		}
		switch {
		case item.Put != nil:
			item.Put.ExpressionAttributeNames, item.Put.ExpressionAttributeValues = e.names, e.values
		case item.Update != nil:
			item.Update.ExpressionAttributeNames, item.Update.ExpressionAttributeValues = e.names, e.values
		case item.Delete != nil:
			item.Delete.ExpressionAttributeNames, item.Delete.ExpressionAttributeValues = e.names, e.values
		case item.ConditionCheck != nil:
			item.ConditionCheck.ExpressionAttributeNames, item.ConditionCheck.ExpressionAttributeValues = e.names, e.values
		}
		items = append(items, item)
		opOf = append(opOf, i)
	}
	return items, opOf
}
