package kvreq

import "unicode/utf8"

// Bounds is the sort-key interval a query selects, with Prefix, From and To
// folded into one interval so that both drivers can seek to it and DynamoDB
// can express it as a single key condition:
//
//	Lo <= SK <= Hi        (HasHi, !HiExclusive)
//	Lo <= SK <  Hi        (HasHi,  HiExclusive: Hi is the prefix's successor)
//	Lo <= SK              (!HasHi)
//
// Sort keys are never empty, so an empty Lo does not restrict.
type Bounds struct {
	Lo          string
	Hi          string
	HasHi       bool
	HiExclusive bool
	// BeginsWith, when non-empty, says the interval is exactly the keys
	// that begin with it.
	BeginsWith string
}

// SortKeys folds a query's Prefix, From and To into Bounds. empty reports
// that no sort key can match (From > To, or a range disjoint from Prefix).
func SortKeys(prefix, from, to string) (b Bounds, empty bool) {
	b.Lo = from
	if prefix > b.Lo {
		// Every key that begins with prefix is >= prefix.
		b.Lo = prefix
	}
	if to != "" {
		b.Hi, b.HasHi = to, true
	}
	if prefix != "" {
		// Every key that begins with prefix is < its successor, and every
		// key >= prefix that is < the successor begins with prefix.
		if succ, ok := Successor(prefix); ok && (!b.HasHi || succ <= b.Hi) {
			b.Hi, b.HasHi, b.HiExclusive = succ, true, true
		}
		if b.Lo == prefix && (!b.HasHi || b.HiExclusive) {
			b.BeginsWith = prefix
		}
	}
	if b.HasHi && (b.Lo > b.Hi || (b.HiExclusive && b.Lo == b.Hi)) {
		return b, true
	}
	return b, false
}

// Contains reports whether sk lies in b.
func (b Bounds) Contains(sk string) bool {
	return sk >= b.Lo && !b.Above(sk)
}

// Above reports whether sk lies beyond b's upper end.
func (b Bounds) Above(sk string) bool {
	if !b.HasHi {
		return false
	}
	return sk > b.Hi || (b.HiExclusive && sk == b.Hi)
}

// Successor returns the smallest valid UTF-8 string greater than every
// string that begins with p, or false when there is none (p is made only of
// U+10FFFF). It works on code points rather than bytes so that the result is
// valid UTF-8 (DynamoDB rejects anything else); for valid UTF-8, byte order
// and code point order agree.
func Successor(p string) (string, bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r == utf8.MaxRune {
			continue
		}
		r++
		if r == 0xD800 { // skip the surrogates, which UTF-8 cannot encode
			r = 0xE000
		}
		return p + string(r), true
	}
	return "", false
}
