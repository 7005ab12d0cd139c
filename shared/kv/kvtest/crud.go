package kvtest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
)

func testGetMissing(t *testing.T, s kv.Store) {
	put(t, s, item("p", "present"))
	for _, key := range [][2]string{{"p", "missing"}, {"other", "present"}, {"p", "presen"}, {"p", "present#"}} {
		got, err := s.Get(t.Context(), key[0], key[1])
		assert.ErrorIs(t, err, kv.ErrNotFound, "get %s/%s", key[0], key[1])
		assert.Zero(t, got, "get %s/%s", key[0], key[1])
	}
}

func testPutGet(t *testing.T, s kv.Store) {
	tests := []struct {
		name string
		item kv.Item
	}{
		{"minimal", kv.Item{PK: "p", SK: "minimal"}},
		{"json", kv.Item{PK: "p", SK: "json", Data: []byte(`{"status":"running"}`)}},
		{"binary data", kv.Item{PK: "p", SK: "binary", Data: binaryData}},
		{"largest data", kv.Item{PK: "p", SK: "large", Data: bytes.Repeat([]byte{'x'}, 350*1024)}},
		{"both indexes", kv.Item{
			PK: "p", SK: "indexed", Data: []byte("d"),
			GSI1PK: "g1", GSI1SK: "s1", GSI2PK: "g2", GSI2SK: "s2",
		}},
		{"expiry truncated to the second", kv.Item{
			PK: "p", SK: "expiring", Data: []byte("d"),
			ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Second).Add(700 * time.Millisecond),
		}},
		{"unicode keys", kv.Item{PK: "projet/é", SK: "clé#日本", GSI1PK: "ü", GSI1SK: "ß"}},
		{"longest keys", kv.Item{PK: strings.Repeat("p", 2048), SK: strings.Repeat("s", 1024)}},
		{"key separators", kv.Item{PK: "a#b", SK: "c#d\x00e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := stored(tc.item, 1)
			got, err := s.Put(t.Context(), tc.item, kv.Condition{})
			require.NoError(t, err)
			assertItem(t, want, got, "Put returns the stored item")
			assertStored(t, s, want)
			if !tc.item.ExpiresAt.IsZero() {
				assert.Equal(t, tc.item.ExpiresAt.Unix(), got.ExpiresAt.Unix())
			}
		})
	}
	t.Run("incomplete index pairs are dropped", func(t *testing.T) {
		it := kv.Item{PK: "p", SK: "half", GSI1PK: "g1", GSI2SK: "s2"}
		got, err := s.Put(t.Context(), it, kv.Condition{})
		require.NoError(t, err)
		want := kv.Item{PK: "p", SK: "half", Version: 1}
		assertItem(t, want, got)
		assertStored(t, s, want)
	})
	t.Run("returned data is a copy", func(t *testing.T) {
		data := []byte("original")
		_, err := s.Put(t.Context(), kv.Item{PK: "p", SK: "copy", Data: data}, kv.Condition{})
		require.NoError(t, err)
		copy(data, "mutated!")
		got, err := s.Get(t.Context(), "p", "copy")
		require.NoError(t, err)
		assert.Equal(t, "original", string(got.Data))
		copy(got.Data, "mutated!")
		again, err := s.Get(t.Context(), "p", "copy")
		require.NoError(t, err)
		assert.Equal(t, "original", string(again.Data))
	})
}

func testPutIgnoresVersion(t *testing.T, s kv.Store) {
	it := item("p", "s")
	it.Version = 42
	got, err := s.Put(t.Context(), it, kv.Condition{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Version)
	it.Version = 1
	got, err = s.Put(t.Context(), it, kv.Condition{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)
}

func testVersions(t *testing.T, s kv.Store) {
	for v := int64(1); v <= 5; v++ {
		it := item("p", "s")
		it.Data = []byte{byte(v)}
		got := put(t, s, it)
		assert.Equal(t, v, got.Version)
		assertStored(t, s, stored(it, v))
	}
	put(t, s, item("p", "other"))
	assertStored(t, s, stored(item("p", "other"), 1))

	require.NoError(t, s.Delete(t.Context(), "p", "s", kv.Condition{}))
	assert.Equal(t, int64(1), put(t, s, item("p", "s")).Version, "a deleted item starts again at version 1")
}

// setup writes the item a condition test starts from.
type setup int

const (
	missing setup = iota
	live          // written twice: version 2
	expired       // written live, then with an expiry in the past: version 2, invisible
)

func (st setup) String() string {
	return [...]string{"missing", "live", "expired"}[st]
}

func (st setup) apply(t *testing.T, s kv.Store, it kv.Item) {
	t.Helper()
	switch st {
	case live:
		put(t, s, it)
		put(t, s, it)
	case expired:
		put(t, s, it)
		putExpired(t, s, it)
	}
}

// before is what Get returns for the item after setup.
func (st setup) check(t *testing.T, s kv.Store, it kv.Item) {
	t.Helper()
	if st == live {
		assertStored(t, s, stored(it, 2))
	} else {
		assertMissing(t, s, it.PK, it.SK)
	}
}

func testPutConditions(t *testing.T, s kv.Store) {
	tests := []struct {
		name     string
		setup    setup
		cond     kv.Condition
		conflict bool
		version  int64 // stored version after a successful put
	}{
		{"missing/always", missing, kv.Condition{}, false, 1},
		{"missing/IfNotExists", missing, kv.Condition{IfNotExists: true}, false, 1},
		{"missing/IfVersion", missing, kv.Condition{IfVersion: 1}, true, 0},
		{"live/always", live, kv.Condition{}, false, 3},
		{"live/IfNotExists", live, kv.Condition{IfNotExists: true}, true, 0},
		{"live/IfVersion current", live, kv.Condition{IfVersion: 2}, false, 3},
		{"live/IfVersion older", live, kv.Condition{IfVersion: 1}, true, 0},
		{"live/IfVersion newer", live, kv.Condition{IfVersion: 3}, true, 0},
		{"expired/always", expired, kv.Condition{}, false, 1},
		{"expired/IfNotExists", expired, kv.Condition{IfNotExists: true}, false, 1},
		{"expired/IfVersion", expired, kv.Condition{IfVersion: 2}, true, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := item("cond", string(rune('a'+i)))
			tc.setup.apply(t, s, base)
			next := base
			next.Data = []byte("next")
			next.GSI1PK, next.GSI1SK = "g", "s"

			got, err := s.Put(t.Context(), next, tc.cond)
			if tc.conflict {
				assert.ErrorIs(t, err, kv.ErrConflict)
				assert.Zero(t, got)
				tc.setup.check(t, s, base)
				return
			}
			require.NoError(t, err)
			assertItem(t, stored(next, tc.version), got)
			assertStored(t, s, stored(next, tc.version))
		})
	}
}

func testDelete(t *testing.T, s kv.Store) {
	tests := []struct {
		name     string
		setup    setup
		cond     kv.Condition
		conflict bool
	}{
		{"missing/always", missing, kv.Condition{}, false},
		{"missing/IfNotExists", missing, kv.Condition{IfNotExists: true}, false},
		{"missing/IfVersion", missing, kv.Condition{IfVersion: 1}, true},
		{"live/always", live, kv.Condition{}, false},
		{"live/IfNotExists", live, kv.Condition{IfNotExists: true}, true},
		{"live/IfVersion current", live, kv.Condition{IfVersion: 2}, false},
		{"live/IfVersion older", live, kv.Condition{IfVersion: 1}, true},
		{"expired/always", expired, kv.Condition{}, false},
		{"expired/IfVersion", expired, kv.Condition{IfVersion: 2}, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := item("del", string(rune('a'+i)))
			tc.setup.apply(t, s, base)
			neighbour := put(t, s, item("del", base.SK+"#neighbour"))

			err := s.Delete(t.Context(), base.PK, base.SK, tc.cond)
			if tc.conflict {
				assert.ErrorIs(t, err, kv.ErrConflict)
				tc.setup.check(t, s, base)
			} else {
				require.NoError(t, err)
				assertMissing(t, s, base.PK, base.SK)
			}
			assertStored(t, s, neighbour)
		})
	}
}

func testInvalid(t *testing.T, s kv.Store) {
	ok := item("p", "s")
	ops := func(n int) []kv.Op {
		out := make([]kv.Op, n)
		for i := range out {
			out[i] = kv.Op{Kind: kv.OpPut, Item: item("tx", seq("i", n)[i])}
		}
		return out
	}
	tests := []struct {
		name string
		call func(s kv.Store) error
	}{
		{"get empty PK", func(s kv.Store) error { _, err := s.Get(t.Context(), "", "s"); return err }},
		{"get empty SK", func(s kv.Store) error { _, err := s.Get(t.Context(), "p", ""); return err }},
		{"put empty PK", func(s kv.Store) error { _, err := s.Put(t.Context(), kv.Item{SK: "s"}, kv.Condition{}); return err }},
		{"put empty SK", func(s kv.Store) error { _, err := s.Put(t.Context(), kv.Item{PK: "p"}, kv.Condition{}); return err }},
		{"put PK too long", func(s kv.Store) error {
			_, err := s.Put(t.Context(), kv.Item{PK: strings.Repeat("p", 2049), SK: "s"}, kv.Condition{})
			return err
		}},
		{"put SK too long", func(s kv.Store) error {
			_, err := s.Put(t.Context(), kv.Item{PK: "p", SK: strings.Repeat("s", 1025)}, kv.Condition{})
			return err
		}},
		{"put SK not UTF-8", func(s kv.Store) error {
			_, err := s.Put(t.Context(), kv.Item{PK: "p", SK: "s\xff"}, kv.Condition{})
			return err
		}},
		{"put data too large", func(s kv.Store) error {
			it := ok
			it.Data = make([]byte, 350*1024+1)
			_, err := s.Put(t.Context(), it, kv.Condition{})
			return err
		}},
		{"put both conditions", func(s kv.Store) error {
			_, err := s.Put(t.Context(), ok, kv.Condition{IfNotExists: true, IfVersion: 1})
			return err
		}},
		{"put negative version", func(s kv.Store) error {
			_, err := s.Put(t.Context(), ok, kv.Condition{IfVersion: -1})
			return err
		}},
		{"delete empty PK", func(s kv.Store) error { return s.Delete(t.Context(), "", "s", kv.Condition{}) }},
		{"delete empty SK", func(s kv.Store) error { return s.Delete(t.Context(), "p", "", kv.Condition{}) }},
		{"query empty PK", func(s kv.Store) error { _, err := s.Query(t.Context(), kv.Query{}); return err }},
		{"query unknown index", func(s kv.Store) error {
			_, err := s.Query(t.Context(), kv.Query{Index: "GSI3", PK: "p"})
			return err
		}},
		{"query negative limit", func(s kv.Store) error {
			_, err := s.Query(t.Context(), kv.Query{PK: "p", Limit: -1})
			return err
		}},
		{"query garbage cursor", func(s kv.Store) error {
			_, err := s.Query(t.Context(), kv.Query{PK: "p", Cursor: "not a cursor!"})
			return err
		}},
		{"transact too many", func(s kv.Store) error { return s.Transact(t.Context(), ops(kv.MaxTransactItems+1)) }},
		{"transact same item twice", func(s kv.Store) error {
			return s.Transact(t.Context(), []kv.Op{
				{Kind: kv.OpPut, Item: ok},
				{Kind: kv.OpCheck, Item: ok, Cond: kv.Condition{IfNotExists: true}},
			})
		}},
		{"transact unknown kind", func(s kv.Store) error {
			return s.Transact(t.Context(), []kv.Op{{Kind: 0, Item: ok}})
		}},
		{"transact empty SK", func(s kv.Store) error {
			return s.Transact(t.Context(), []kv.Op{{Kind: kv.OpPut, Item: ok}, {Kind: kv.OpDelete, Item: kv.Item{PK: "p"}}})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, tc.call(s), kv.ErrInvalid)
		})
	}
	assertMissing(t, s, "p", "s")
	page, err := s.Query(t.Context(), kv.Query{PK: "tx"})
	require.NoError(t, err)
	assert.Empty(t, page.Items, "a rejected transaction writes nothing")
}
