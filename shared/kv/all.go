package kv

import (
	"context"
	"encoding/json"
	"fmt"
)

// All runs q over every page and decodes each item's Data as JSON into a
// T: the records of a partition or an index, in the query's order.
func All[T any](ctx context.Context, db Store, q Query) ([]T, error) {
	var out []T
	for {
		page, err := db.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var v T
			if err := json.Unmarshal(it.Data, &v); err != nil {
				return nil, fmt.Errorf("decode %s/%s: %w", it.PK, it.SK, err)
			}
			out = append(out, v)
		}
		if page.Cursor == "" {
			return out, nil
		}
		q.Cursor = page.Cursor
	}
}
