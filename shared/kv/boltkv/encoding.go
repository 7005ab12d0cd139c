package boltkv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/internal/kvreq"
)

// Key layout. A partition is a contiguous key range and sort keys order
// bytewise inside it, so every query is one cursor scan:
//
//	items: len(PK) (2 bytes, big endian) | PK | SK                    -> record
//	gsi1:  len(GSI1PK) | GSI1PK | esc(GSI1SK) 0x00 0x01 | items key   -> items key
//	gsi2:  the same with GSI2PK, GSI2SK
//
// esc doubles 0x00 as 0x00 0xFF so that the 0x00 0x01 terminator sorts below
// any continuation: index entries order by index sort key, then by primary
// key (DynamoDB leaves the order of equal index keys unspecified).

// partition is the key prefix of one partition of the table or an index.
func partition(pk string) []byte {
	b := make([]byte, 2, 2+len(pk))
	binary.BigEndian.PutUint16(b, uint16(len(pk)))
	return append(b, pk...)
}

func tableKey(pk, sk string) []byte {
	return append(partition(pk), sk...)
}

// appendEscaped appends gsk escaped; without the terminator it is also the smallest key of entries whose sort key is >= gsk.
func appendEscaped(b []byte, gsk string) []byte {
	for i := 0; i < len(gsk); i++ {
		if gsk[i] == 0 {
			b = append(b, 0, 0xFF)
			continue
		}
		b = append(b, gsk[i])
	}
	return b
}

var terminator = []byte{0, 1}

func indexKey(gpk, gsk string, tkey []byte) []byte {
	b := appendEscaped(partition(gpk), gsk)
	b = append(b, terminator...)
	return append(b, tkey...)
}

// sortKeyOf decodes the sort key of a table or index key that begins with
// prefix.
func sortKeyOf(index kv.Index, prefix, key []byte) (string, error) {
	rest := key[len(prefix):]
	if index == kv.Table {
		return string(rest), nil
	}
	var sk []byte
	for i := 0; i < len(rest); i++ {
		if rest[i] != 0 {
			sk = append(sk, rest[i])
			continue
		}
		if i+1 < len(rest) && rest[i+1] == 0xFF {
			sk = append(sk, 0)
			i++
			continue
		}
		if i+1 < len(rest) && rest[i+1] == 1 {
			return string(sk), nil
		}
		break
	}
	return "", fmt.Errorf("boltkv: corrupt index key %x", key)
}

// splitTableKey decodes an items key.
func splitTableKey(key []byte) (pk, sk string, err error) {
	if len(key) < 2 {
		return "", "", fmt.Errorf("boltkv: corrupt key %x", key)
	}
	n := int(binary.BigEndian.Uint16(key))
	if len(key) < 2+n {
		return "", "", fmt.Errorf("boltkv: corrupt key %x", key)
	}
	return string(key[2 : 2+n]), string(key[2+n:]), nil
}

// record is what the items bucket stores for an item; the primary key is
// the bucket key.
//
//	0x01 | uvarint Version | varint TTL | 4 × (uvarint len | bytes) index keys | Data
const recordFormat = 1

func encodeRecord(it kv.Item) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+4+len(it.GSI1PK)+len(it.GSI1SK)+len(it.GSI2PK)+len(it.GSI2SK)+len(it.Data))
	b = append(b, recordFormat)
	b = binary.AppendUvarint(b, uint64(it.Version))
	b = binary.AppendVarint(b, kvreq.TTL(it))
	for _, s := range []string{it.GSI1PK, it.GSI1SK, it.GSI2PK, it.GSI2SK} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, it.Data...)
}

var errCorrupt = errors.New("boltkv: corrupt record")

// decodeRecord decodes a record (copying out of bbolt's memory) and returns
// the item and its TTL.
func decodeRecord(key, rec []byte) (kv.Item, int64, error) {
	var it kv.Item
	pk, sk, err := splitTableKey(key)
	if err != nil {
		return it, 0, err
	}
	it.PK, it.SK = pk, sk
	if len(rec) == 0 || rec[0] != recordFormat {
		return it, 0, fmt.Errorf("%w %s/%s: unknown format", errCorrupt, pk, sk)
	}
	r := bytes.NewReader(rec[1:])
	v, err := binary.ReadUvarint(r)
	if err != nil {
		return it, 0, fmt.Errorf("%w %s/%s: version: %v", errCorrupt, pk, sk, err)
	}
	ttl, err := binary.ReadVarint(r)
	if err != nil {
		return it, 0, fmt.Errorf("%w %s/%s: ttl: %v", errCorrupt, pk, sk, err)
	}
	var strs [4]string
	for i := range strs {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(r.Len()) {
			return it, 0, fmt.Errorf("%w %s/%s: index key %d", errCorrupt, pk, sk, i)
		}
		s := make([]byte, n)
		_, _ = r.Read(s)
		strs[i] = string(s)
	}
	it.Version = int64(v)
	it.ExpiresAt = kvreq.ExpiresAt(ttl)
	it.GSI1PK, it.GSI1SK, it.GSI2PK, it.GSI2SK = strs[0], strs[1], strs[2], strs[3]
	if r.Len() > 0 {
		it.Data = make([]byte, r.Len())
		_, _ = r.Read(it.Data)
	}
	return it, ttl, nil
}
