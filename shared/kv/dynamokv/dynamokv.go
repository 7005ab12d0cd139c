// Package dynamokv is the DynamoDB driver of the kv port (see package kv):
// one table whose items carry the attributes
//
//	PK, SK          table keys (S)
//	GSI1PK, GSI1SK  keys of index GSI1 (S), present only when both are set
//	GSI2PK, GSI2SK  keys of index GSI2 (S), present only when both are set
//	D               Item.Data (B), absent when empty
//	V               Item.Version (N)
//	TTL             Item.ExpiresAt in epoch seconds (N), the table's TTL
//	                attribute, absent when the item does not expire
//
// CreateTable makes such a table. DynamoDB deletes expired items lazily
// (within days), so every read filters them out and every condition treats
// them as absent.
//
// Writes map onto single requests where they can: a conditional Put is one
// PutItem whose new version is known from the condition; an unconditional
// Put is one UpdateItem (V = if_not_exists(V, 0) + 1) guarded by "the stored
// item has not expired", followed, only when that guard fails, by a PutItem
// of version 1 guarded by "it still has expired".
package dynamokv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// Attribute names of the table's items (see the package comment). The
// table's definition (CreateTable, the CDK app) must agree with them.
const (
	AttrPK      = "PK"
	AttrSK      = "SK"
	AttrGSI1PK  = "GSI1PK"
	AttrGSI1SK  = "GSI1SK"
	AttrGSI2PK  = "GSI2PK"
	AttrGSI2SK  = "GSI2SK"
	AttrData    = "D"
	AttrVersion = "V"
	AttrTTL     = "TTL"
)

// Client is the part of the DynamoDB API the Store uses; *dynamodb.Client
// satisfies it.
type Client interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, params *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// Config configures a Store.
type Config struct {
	// Table is the name of the DynamoDB table (see CreateTable). Required.
	Table string
	// Now is the clock that decides expiry; nil means time.Now.
	Now func() time.Time
}

// Store is a kv.Store on a DynamoDB table. It is safe for concurrent use.
type Store struct {
	client Client
	table  *string
	now    func() time.Time
}

var _ kv.Store = (*Store)(nil)

// New returns a Store on cfg.Table, reached through client.
func New(client Client, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("dynamokv: nil client")
	}
	if cfg.Table == "" {
		return nil, errors.New("dynamokv: Config.Table is empty")
	}
	s := &Store{client: client, table: aws.String(cfg.Table), now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// maxPutAttempts bounds an unconditional Put's alternation between "update
// the live item" and "replace the expired item", which repeats only while
// other writers keep changing the item in between.
const maxPutAttempts = 8

// Get returns the unexpired item with the key, or an error matching
// kv.ErrNotFound. It reads strongly consistently.
func (s *Store) Get(ctx context.Context, pk, sk string) (kv.Item, error) {
	it, err := s.get(ctx, pk, sk)
	if err != nil {
		return kv.Item{}, fmt.Errorf("dynamokv: get %s/%s: %w", pk, sk, err)
	}
	return it, nil
}

func (s *Store) get(ctx context.Context, pk, sk string) (kv.Item, error) {
	if err := kvreq.Key(pk, sk); err != nil {
		return kv.Item{}, err
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      s.table,
		Key:            primaryKey(pk, sk),
		ConsistentRead: aws.Bool(true),
	}, retries)
	if err != nil {
		return kv.Item{}, err
	}
	if len(out.Item) == 0 {
		return kv.Item{}, kv.ErrNotFound
	}
	it, ttl, err := decodeItem(out.Item)
	if err != nil {
		return kv.Item{}, err
	}
	if kvreq.Expired(ttl, s.now()) {
		return kv.Item{}, kv.ErrNotFound
	}
	return it, nil
}

// Put writes the item if cond holds and returns it as stored.
func (s *Store) Put(ctx context.Context, item kv.Item, cond kv.Condition) (kv.Item, error) {
	stored, err := s.put(ctx, item, cond)
	if err != nil {
		return kv.Item{}, fmt.Errorf("dynamokv: put %s/%s: %w", item.PK, item.SK, err)
	}
	return stored, nil
}

func (s *Store) put(ctx context.Context, item kv.Item, cond kv.Condition) (kv.Item, error) {
	if err := errors.Join(kvreq.Item(item), kvreq.Condition(cond)); err != nil {
		return kv.Item{}, err
	}
	it := kvreq.Normalize(item)
	if cond != (kv.Condition{}) {
		// The condition fixes the stored version, so the new version is
		// known: one PutItem.
		it.Version = 1
		if cond.IfVersion != 0 {
			it.Version = cond.IfVersion + 1
		}
		e := newExpr(s.now())
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 s.table,
			Item:                      encodeItem(it),
			ConditionExpression:       e.condition(cond),
			ExpressionAttributeNames:  e.names,
			ExpressionAttributeValues: e.values,
		}, retries, retryTransactionConflicts)
		if err != nil {
			return kv.Item{}, conflict(err)
		}
		return it, nil
	}
	for range maxPutAttempts {
		e := newExpr(s.now())
		update := e.update(it)
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 s.table,
			Key:                       primaryKey(it.PK, it.SK),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(e.live()),
			ExpressionAttributeNames:  e.names,
			ExpressionAttributeValues: e.values,
			ReturnValues:              types.ReturnValueUpdatedNew,
		}, retries, retryTransactionConflicts)
		if err == nil {
			it.Version, err = number(out.Attributes, AttrVersion)
			return it, err
		}
		if !conditionFailed(err) {
			return kv.Item{}, err
		}
		// The stored item has expired: it does not exist any more, so the
		// new one starts at version 1.
		it.Version = 1
		e = newExpr(s.now())
		_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 s.table,
			Item:                      encodeItem(it),
			ConditionExpression:       aws.String(e.expired()),
			ExpressionAttributeNames:  e.names,
			ExpressionAttributeValues: e.values,
		}, retries, retryTransactionConflicts)
		if err == nil {
			return it, nil
		}
		if !conditionFailed(err) {
			return kv.Item{}, err
		}
		// Someone rewrote or deleted the item in between: start over.
	}
	return kv.Item{}, fmt.Errorf("item kept changing during %d attempts", maxPutAttempts)
}

// Delete removes the item if cond holds; deleting a missing item under the
// zero Condition succeeds.
func (s *Store) Delete(ctx context.Context, pk, sk string, cond kv.Condition) error {
	err := errors.Join(kvreq.Key(pk, sk), kvreq.Condition(cond))
	if err == nil {
		e := newExpr(s.now())
		_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 s.table,
			Key:                       primaryKey(pk, sk),
			ConditionExpression:       e.condition(cond),
			ExpressionAttributeNames:  e.names,
			ExpressionAttributeValues: e.values,
		}, retries, retryTransactionConflicts)
		err = conflict(err)
	}
	if err != nil {
		return fmt.Errorf("dynamokv: delete %s/%s: %w", pk, sk, err)
	}
	return nil
}

// MinAttempts is the least number of attempts the Store gives a request.
// Throttling (ProvisionedThroughputExceededException, ThrottlingException,
// RequestLimitExceeded) and 5xx answers are retried by the client's
// retryer: the SDK's standard one unless the composition chose another,
// with exponential backoff and full jitter (a 1 s base for throttles,
// capped at 20 s) and its retry quota. The SDK's DynamoDB default of 4
// attempts gives up within seconds of a burst over an on-demand table's
// capacity; 8 ride out about a minute. A throttled request was not applied,
// so its retry cannot apply twice; a retried write whose first attempt was
// applied and whose answer was lost fails its own condition (callers that
// must tell, such as package lease, read back) and a retried transaction
// repeats its ClientRequestToken, which DynamoDB makes idempotent.
const MinAttempts = 8

// retries raises the request's attempts to MinAttempts (a retryer with no
// limit, MaxAttempts 0, stays as it is).
func retries(o *dynamodb.Options) {
	if o.Retryer == nil {
		return
	}
	if n := o.Retryer.MaxAttempts(); n > 0 && n < MinAttempts {
		o.Retryer = retry.AddWithMaxAttempts(o.Retryer, MinAttempts)
	}
}

// retryTransactionConflicts lets the SDK retry a single-item write that
// collided with a transaction in flight on the same item; the write was not
// applied, and the SDK's retryer does not retry it by default.
func retryTransactionConflicts(o *dynamodb.Options) {
	if o.Retryer != nil {
		o.Retryer = retry.AddWithErrorCodes(o.Retryer, (&types.TransactionConflictException{}).ErrorCode())
	}
}

// conditionFailed reports whether a single-item write failed its condition.
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// conflict makes a failed condition match kv.ErrConflict, keeping the SDK
// error in the chain.
func conflict(err error) error {
	if conditionFailed(err) {
		return fmt.Errorf("%w: %w", kv.ErrConflict, err)
	}
	return err
}

// expr collects the placeholders of one request's expressions.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
	now    time.Time
}

func newExpr(now time.Time) *expr {
	return &expr{now: now}
}

// name returns the placeholder of an attribute name (TTL is a reserved
// word; the others get one for uniformity).
func (e *expr) name(attr string) string {
	if e.names == nil {
		e.names = map[string]string{}
	}
	ph := "#" + attr
	e.names[ph] = attr
	return ph
}

// value returns a new placeholder for v.
func (e *expr) value(v types.AttributeValue) string {
	if e.values == nil {
		e.values = map[string]types.AttributeValue{}
	}
	ph := ":v" + strconv.Itoa(len(e.values))
	e.values[ph] = v
	return ph
}

// nowValue returns the placeholder of the current epoch second, once.
func (e *expr) nowValue() string {
	const ph = ":now"
	if _, ok := e.values[ph]; !ok {
		if e.values == nil {
			e.values = map[string]types.AttributeValue{}
		}
		e.values[ph] = num(e.now.Unix())
	}
	return ph
}

// live holds when the stored item is absent or has not expired.
func (e *expr) live() string {
	ttl := e.name(AttrTTL)
	return fmt.Sprintf("(attribute_not_exists(%s) OR %s > %s)", ttl, ttl, e.nowValue())
}

// expired holds when the stored item exists and has expired (a comparison
// with a missing attribute is false).
func (e *expr) expired() string {
	return fmt.Sprintf("%s <= %s", e.name(AttrTTL), e.nowValue())
}

// condition translates cond; nil when it always holds.
func (e *expr) condition(cond kv.Condition) *string {
	switch {
	case cond.IfNotExists:
		return aws.String(fmt.Sprintf("attribute_not_exists(%s) OR %s", e.name(AttrPK), e.expired()))
	case cond.IfVersion != 0:
		return aws.String(fmt.Sprintf("%s = %s AND %s", e.name(AttrVersion), e.value(num(cond.IfVersion)), e.live()))
	}
	return nil
}

// update is the UpdateExpression of an unconditional put: it replaces every
// attribute and increments the version.
func (e *expr) update(it kv.Item) string {
	v := e.name(AttrVersion)
	set := fmt.Sprintf("SET %s = if_not_exists(%s, %s) + %s", v, v, e.value(num(0)), e.value(num(1)))
	remove := ""
	attrs := encodeItem(it)
	for _, attr := range []string{AttrGSI1PK, AttrGSI1SK, AttrGSI2PK, AttrGSI2SK, AttrData, AttrTTL} {
		if av, ok := attrs[attr]; ok {
			set += fmt.Sprintf(", %s = %s", e.name(attr), e.value(av))
			continue
		}
		if remove == "" {
			remove = " REMOVE "
		} else {
			remove += ", "
		}
		remove += e.name(attr)
	}
	return set + remove
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func primaryKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(sk)}
}

// encodeItem maps a normalised item to its attributes.
func encodeItem(it kv.Item) map[string]types.AttributeValue {
	m := primaryKey(it.PK, it.SK)
	m[AttrVersion] = num(it.Version)
	if it.GSI1PK != "" {
		m[AttrGSI1PK], m[AttrGSI1SK] = str(it.GSI1PK), str(it.GSI1SK)
	}
	if it.GSI2PK != "" {
		m[AttrGSI2PK], m[AttrGSI2SK] = str(it.GSI2PK), str(it.GSI2SK)
	}
	if len(it.Data) > 0 {
		m[AttrData] = &types.AttributeValueMemberB{Value: it.Data}
	}
	if ttl := kvreq.TTL(it); ttl != 0 {
		m[AttrTTL] = num(ttl)
	}
	return m
}

// decodeItem maps attributes back to an item and its TTL.
func decodeItem(m map[string]types.AttributeValue) (kv.Item, int64, error) {
	var it kv.Item
	var err error
	for attr, dst := range map[string]*string{
		AttrPK: &it.PK, AttrSK: &it.SK,
		AttrGSI1PK: &it.GSI1PK, AttrGSI1SK: &it.GSI1SK,
		AttrGSI2PK: &it.GSI2PK, AttrGSI2SK: &it.GSI2SK,
	} {
		switch v := m[attr].(type) {
		case *types.AttributeValueMemberS:
			*dst = v.Value
		case nil:
		default:
			err = errors.Join(err, fmt.Errorf("attribute %s is %T, not a string", attr, v))
		}
	}
	if it.PK == "" || it.SK == "" {
		err = errors.Join(err, errors.New("item without PK or SK"))
	}
	switch v := m[AttrData].(type) {
	case *types.AttributeValueMemberB:
		if len(v.Value) > 0 {
			it.Data = v.Value
		}
	case nil:
	default:
		err = errors.Join(err, fmt.Errorf("attribute %s is %T, not binary", AttrData, v))
	}
	var ttl int64
	if _, ok := m[AttrTTL]; ok {
		var terr error
		ttl, terr = number(m, AttrTTL)
		err = errors.Join(err, terr)
		it.ExpiresAt = kvreq.ExpiresAt(ttl)
	}
	v, verr := number(m, AttrVersion)
	it.Version = v
	if err = errors.Join(err, verr); err != nil {
		return kv.Item{}, 0, fmt.Errorf("dynamokv: malformed item %s/%s: %w", it.PK, it.SK, err)
	}
	return it, ttl, nil
}

// number reads an integer attribute.
func number(m map[string]types.AttributeValue, attr string) (int64, error) {
	v, ok := m[attr].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is missing or not a number", attr)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: %w", attr, err)
	}
	return n, nil
}
