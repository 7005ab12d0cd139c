package dirblob

import (
	"errors"
	"path/filepath"
	"strings"
)

// How keys map to paths under Root/objects.
//
// A key is split at "/" into segments. Each segment is escaped: bytes other
// than a-z, 0-9, '-', '_' and '.' become "%xx" (lowercase hex), so upper and
// lower case never meet on a case-insensitive file system, and an escaped
// segment is cut into pieces of at most maxPiece bytes (never inside an
// escape) so that no file name passes 255 bytes. Every name then gets a
// suffix that says what it is:
//
//	piece.c   a directory continuing the same segment (no "/" after it)
//	piece.d   a directory: the segment followed by "/"
//	piece.o   an object: the key's last segment
//
//	"logs/Step 1.txt"  →  logs.d/%53tep%201.txt.o
//	"a/"               →  a.d/.o
//
// The suffixes keep objects and directories apart (keys "a" and "a/b" are
// a.o and a.d/b.o) and make the mapping one-to-one, so a path decodes back
// to its key. Temporary files never end in these suffixes.
const maxPiece = 240

const (
	suffixCont   = ".c"
	suffixDir    = ".d"
	suffixObject = ".o"
)

func isPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

const hexDigits = "0123456789abcdef"

// pieces escapes a segment and cuts it into file-name-sized pieces.
func pieces(seg string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		n := 1
		if !isPlain(c) {
			n = 3
		}
		if b.Len()+n > maxPiece {
			out = append(out, b.String())
			b.Reset()
		}
		if n == 1 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	return append(out, b.String())
}

// objectPath returns the file that holds key, relative to the objects root.
func objectPath(key string) string {
	segs := strings.Split(key, "/")
	var parts []string
	for i, seg := range segs {
		ps := pieces(seg)
		for j, p := range ps {
			switch {
			case j < len(ps)-1:
				parts = append(parts, p+suffixCont)
			case i < len(segs)-1:
				parts = append(parts, p+suffixDir)
			default:
				parts = append(parts, p+suffixObject)
			}
		}
	}
	return filepath.Join(parts...)
}

// dirPath returns the directory that holds the keys starting with the
// complete segments of prefix (everything up to its last "/"), relative to the
// objects root, and that key prefix.
func dirPath(prefix string) (dir, keyPrefix string) {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "", ""
	}
	keyPrefix = prefix[:i+1]
	// objectPath of keyPrefix ends in the object ".o" for the empty last
	// segment; its directory is what we want.
	return filepath.Dir(objectPath(keyPrefix)), keyPrefix
}

var errNotOurs = errors.New("not an object or directory name")

// decodeName splits a directory entry into its decoded key part and kind.
func decodeName(name string) (part, suffix string, err error) {
	if len(name) < 2 {
		return "", "", errNotOurs
	}
	suffix = name[len(name)-2:]
	switch suffix {
	case suffixCont, suffixDir, suffixObject:
	default:
		return "", "", errNotOurs
	}
	escaped := name[:len(name)-2]
	var b strings.Builder
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c == '%' && i+2 < len(escaped) && isHex(escaped[i+1]) && isHex(escaped[i+2]):
			b.WriteByte(unhex(escaped[i+1])<<4 | unhex(escaped[i+2]))
			i += 2
		case isPlain(c):
			b.WriteByte(c)
		default:
			return "", "", errNotOurs
		}
	}
	part = b.String()
	if suffix == suffixDir {
		part += "/"
	}
	return part, suffix, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}
