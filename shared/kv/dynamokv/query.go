package dynamokv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// Query returns one page of a partition of the table (read strongly
// consistently) or of an index (eventually consistent).
//
// Expired items are filtered out by DynamoDB (FilterExpression), which
// applies Limit before filtering; so Query keeps reading until it has Limit
// items plus one more, or reaches the end. The extra item tells whether a
// next page exists, so the last page has Cursor "" even when full. The cursor
// is the key of the page's last item (what DynamoDB calls
// ExclusiveStartKey), so it stays valid while the partition changes.
func (s *Store) Query(ctx context.Context, q kv.Query) (kv.Page, error) {
	page, err := s.query(ctx, q)
	if err != nil {
		name := string(q.Index)
		if q.Index == kv.Table {
			name = "table"
		}
		return kv.Page{}, fmt.Errorf("dynamokv: query %s %s: %w", name, q.PK, err)
	}
	return page, nil
}

// indexKeys names the key attributes of the table or an index.
func indexKeys(index kv.Index) (pk, sk string) {
	switch index {
	case kv.GSI1:
		return AttrGSI1PK, AttrGSI1SK
	case kv.GSI2:
		return AttrGSI2PK, AttrGSI2SK
	}
	return AttrPK, AttrSK
}

func (s *Store) query(ctx context.Context, q kv.Query) (kv.Page, error) {
	limit, err := kvreq.Query(q)
	if err != nil {
		return kv.Page{}, err
	}
	var start map[string]types.AttributeValue
	if q.Cursor != "" {
		if start, err = decodeCursor(q, q.Cursor); err != nil {
			return kv.Page{}, err
		}
	}
	bounds, empty := kvreq.SortKeys(q.Prefix, q.From, q.To)
	if empty {
		return kv.Page{}, nil
	}
	now := s.now()
	e := newExpr(now)
	pkAttr, skAttr := indexKeys(q.Index)
	cond := fmt.Sprintf("%s = %s", e.name(pkAttr), e.value(str(q.PK)))
	sk := func() string { return e.name(skAttr) } // named only when used
	// DynamoDB takes one sort-key condition and cannot filter on keys, so
	// a range that ends just below a prefix's successor is queried with
	// BETWEEN up to the successor, which is then dropped here.
	dropHi := false
	switch b := bounds; {
	case b.BeginsWith != "":
		cond += fmt.Sprintf(" AND begins_with(%s, %s)", sk(), e.value(str(b.BeginsWith)))
	case b.HasHi && b.Lo != "":
		cond += fmt.Sprintf(" AND %s BETWEEN %s AND %s", sk(), e.value(str(b.Lo)), e.value(str(b.Hi)))
		dropHi = b.HiExclusive
	case b.HasHi && b.HiExclusive:
		cond += fmt.Sprintf(" AND %s < %s", sk(), e.value(str(b.Hi)))
	case b.HasHi:
		cond += fmt.Sprintf(" AND %s <= %s", sk(), e.value(str(b.Hi)))
	case b.Lo != "":
		cond += fmt.Sprintf(" AND %s >= %s", sk(), e.value(str(b.Lo)))
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    aws.String(cond),
		FilterExpression:          aws.String(e.live()),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
		ScanIndexForward:          aws.Bool(!q.Descending),
		ExclusiveStartKey:         start,
	}
	if q.Index == kv.Table {
		in.ConsistentRead = aws.Bool(true)
	} else {
		in.IndexName = aws.String(string(q.Index))
	}

	var page kv.Page
	var last map[string]types.AttributeValue
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(page.Items)))
		out, err := s.client.Query(ctx, in, retries)
		if err != nil {
			return kv.Page{}, err
		}
		for _, raw := range out.Items {
			it, ttl, err := decodeItem(raw)
			if err != nil {
				return kv.Page{}, err
			}
			if kvreq.Expired(ttl, now) {
				continue // the filter already did this; be safe
			}
			if dropHi {
				if v, ok := raw[skAttr].(*types.AttributeValueMemberS); ok && v.Value == bounds.Hi {
					continue
				}
			}
			if len(page.Items) == limit {
				page.Cursor, err = encodeCursor(q.Index, last)
				return page, err
			}
			page.Items = append(page.Items, it)
			last = raw
		}
		if len(out.LastEvaluatedKey) == 0 {
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// cursorAttrs are the key attributes that identify a position in the table
// or an index: DynamoDB's ExclusiveStartKey for an index holds the table's
// keys too.
func cursorAttrs(index kv.Index) []string {
	pk, sk := indexKeys(index)
	if index == kv.Table {
		return []string{pk, sk}
	}
	return []string{AttrPK, AttrSK, pk, sk}
}

// encodeCursor encodes the key of item as base64url JSON of its string key
// attributes.
func encodeCursor(index kv.Index, item map[string]types.AttributeValue) (string, error) {
	key := map[string]string{}
	for _, attr := range cursorAttrs(index) {
		v, ok := item[attr].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("item lacks key attribute %s", attr)
		}
		key[attr] = v.Value
	}
	b, err := json.Marshal(key)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeCursor checks that a cursor belongs to q's partition and returns
// the ExclusiveStartKey it stands for.
func decodeCursor(q kv.Query, cursor string) (map[string]types.AttributeValue, error) {
	invalid := fmt.Errorf("%w: cursor %q is not from this query", kv.ErrInvalid, cursor)
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, invalid
	}
	var key map[string]string
	if err := json.Unmarshal(b, &key); err != nil {
		return nil, invalid
	}
	attrs := cursorAttrs(q.Index)
	if len(key) != len(attrs) {
		return nil, invalid
	}
	start := make(map[string]types.AttributeValue, len(attrs))
	for _, attr := range attrs {
		v, ok := key[attr]
		if !ok || v == "" {
			return nil, invalid
		}
		start[attr] = str(v)
	}
	if pkAttr, _ := indexKeys(q.Index); key[pkAttr] != q.PK {
		return nil, invalid
	}
	return start, nil
}
