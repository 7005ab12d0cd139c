package kvtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
)

func testTransact(t *testing.T, s kv.Store) {
	a := put(t, s, item("tx", "a"))
	c := put(t, s, item("tx", "c"))
	d := put(t, s, item("tx", "d"))
	put(t, s, item("tx", "e"))

	a2 := item("tx", "a")
	a2.Data = []byte("a2")
	b := withIndexKeys(item("tx", "b"), kv.GSI1, "tx-index", "b")
	e2 := item("tx", "e")
	e2.Data = []byte("e2")
	require.NoError(t, s.Transact(t.Context(), []kv.Op{
		{Kind: kv.OpPut, Item: a2, Cond: kv.Condition{IfVersion: a.Version}},
		{Kind: kv.OpPut, Item: b, Cond: kv.Condition{IfNotExists: true}},
		{Kind: kv.OpDelete, Item: kv.Item{PK: "tx", SK: "c"}, Cond: kv.Condition{IfVersion: c.Version}},
		{Kind: kv.OpCheck, Item: kv.Item{PK: "tx", SK: "d"}, Cond: kv.Condition{IfVersion: d.Version}},
		{Kind: kv.OpPut, Item: e2},
		{Kind: kv.OpDelete, Item: kv.Item{PK: "tx", SK: "missing"}},
		{Kind: kv.OpCheck, Item: kv.Item{PK: "tx", SK: "absent"}, Cond: kv.Condition{IfNotExists: true}},
	}))

	assertStored(t, s, stored(a2, 2))
	assertStored(t, s, stored(b, 1))
	assertMissing(t, s, "tx", "c")
	assertStored(t, s, d)
	assertStored(t, s, stored(e2, 2))
	assertMissing(t, s, "tx", "missing")
	assertMissing(t, s, "tx", "absent")
	eventually(t, func(c *assert.CollectT) {
		items, _ := queryAll(t.Context(), c, s, kv.Query{Index: kv.GSI1, PK: "tx-index"})
		assert.Equal(c, []string{"b"}, sortKeys(items), "a transaction maintains the indexes")
	})
	assert.NoError(t, s.Transact(t.Context(), nil), "an empty transaction does nothing")
}

func testTransactAllOrNothing(t *testing.T, s kv.Store) {
	tests := []struct {
		name    string
		sk      string // "f" exists at version 1, "never" does not
		failing kv.Op
	}{
		{"put IfNotExists", "f", kv.Op{Kind: kv.OpPut, Cond: kv.Condition{IfNotExists: true}}},
		{"put IfVersion", "f", kv.Op{Kind: kv.OpPut, Cond: kv.Condition{IfVersion: 2}}},
		{"put IfVersion of a missing item", "never", kv.Op{Kind: kv.OpPut, Cond: kv.Condition{IfVersion: 1}}},
		{"delete IfVersion", "f", kv.Op{Kind: kv.OpDelete, Cond: kv.Condition{IfVersion: 7}}},
		{"delete IfNotExists", "f", kv.Op{Kind: kv.OpDelete, Cond: kv.Condition{IfNotExists: true}}},
		{"check IfVersion", "f", kv.Op{Kind: kv.OpCheck, Cond: kv.Condition{IfVersion: 2}}},
		{"check IfNotExists", "f", kv.Op{Kind: kv.OpCheck, Cond: kv.Condition{IfNotExists: true}}},
		{"check IfVersion of a missing item", "never", kv.Op{Kind: kv.OpCheck, Cond: kv.Condition{IfVersion: 1}}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pk := "aon" + string(rune('a'+i))
			f := put(t, s, item(pk, "f"))
			existing := put(t, s, item(pk, "existing"))
			doomed := put(t, s, item(pk, "doomed"))

			failing := tc.failing
			failing.Item = item(pk, tc.sk)
			failing.Item.Data = []byte("changed")
			ops := []kv.Op{
				{Kind: kv.OpPut, Item: withIndexKeys(item(pk, "new"), kv.GSI2, pk+"-index", "new")},
				{Kind: kv.OpPut, Item: kv.Item{PK: pk, SK: "existing", Data: []byte("changed")}, Cond: kv.Condition{IfVersion: 1}},
				{Kind: kv.OpDelete, Item: kv.Item{PK: pk, SK: "doomed"}},
				failing,
			}
			for _, order := range []struct {
				name string
				ops  []kv.Op
			}{{"failing last", ops}, {"failing first", append([]kv.Op{failing}, ops[:3]...)}} {
				err := s.Transact(t.Context(), order.ops)
				assert.ErrorIs(t, err, kv.ErrConflict, order.name)
				assertMissing(t, s, pk, "new")
				assertStored(t, s, existing)
				assertStored(t, s, doomed)
				assertStored(t, s, f)
				assertMissing(t, s, pk, "never")
			}
			page, err := s.Query(t.Context(), kv.Query{Index: kv.GSI2, PK: pk + "-index"})
			require.NoError(t, err)
			assert.Empty(t, page.Items, "a failed transaction leaves the indexes alone")
		})
	}
}

func testTransactLimits(t *testing.T, s kv.Store) {
	ops := make([]kv.Op, kv.MaxTransactItems+1)
	for i, sk := range seq("item#", len(ops)) {
		ops[i] = kv.Op{Kind: kv.OpPut, Item: item("limits", sk), Cond: kv.Condition{IfNotExists: true}}
	}
	err := s.Transact(t.Context(), ops)
	assert.ErrorIs(t, err, kv.ErrInvalid, "%d operations", len(ops))
	page, err := s.Query(t.Context(), kv.Query{PK: "limits"})
	require.NoError(t, err)
	assert.Empty(t, page.Items)

	require.NoError(t, s.Transact(t.Context(), ops[:kv.MaxTransactItems]), "%d operations", kv.MaxTransactItems)
	items, _ := queryAll(t.Context(), t, s, kv.Query{PK: "limits"})
	assert.Len(t, items, kv.MaxTransactItems)
}

// testTransactExpired pins that an expired item does not exist inside a
// transaction either.
func testTransactExpired(t *testing.T, s kv.Store) {
	for _, sk := range []string{"put", "create", "check", "versioned"} {
		put(t, s, item("txexp", sk))
		putExpired(t, s, item("txexp", sk)) // version 2, expired
	}
	err := s.Transact(t.Context(), []kv.Op{
		{Kind: kv.OpPut, Item: item("txexp", "put")},
		{Kind: kv.OpPut, Item: item("txexp", "create"), Cond: kv.Condition{IfNotExists: true}},
		{Kind: kv.OpCheck, Item: item("txexp", "check"), Cond: kv.Condition{IfNotExists: true}},
	})
	require.NoError(t, err)
	assertStored(t, s, stored(item("txexp", "put"), 1))
	assertStored(t, s, stored(item("txexp", "create"), 1))
	assertMissing(t, s, "txexp", "check")

	err = s.Transact(t.Context(), []kv.Op{
		{Kind: kv.OpPut, Item: item("txexp", "other")},
		{Kind: kv.OpCheck, Item: item("txexp", "versioned"), Cond: kv.Condition{IfVersion: 2}},
	})
	assert.ErrorIs(t, err, kv.ErrConflict)
	assertMissing(t, s, "txexp", "other")
}
