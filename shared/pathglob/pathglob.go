// Package pathglob matches slash-separated paths against the glob patterns
// CircleCI accepts in `persist_to_workspace` paths and `circleci tests glob`:
// path.Match's syntax (*, ?, [a-z]) within a segment, "**" as a whole
// segment for zero or more segments, and {a,b} alternatives.
package pathglob

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// ErrBadPattern: the pattern is malformed.
var ErrBadPattern = errors.New("bad glob pattern")

// Expand returns the alternatives of the {a,b} groups of pattern (nested
// groups too); a pattern without braces is returned as is.
func Expand(pattern string) ([]string, error) {
	open := -1
	depth := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				return nil, fmt.Errorf("%w %q: unmatched }", ErrBadPattern, pattern)
			}
			depth--
			if depth > 0 {
				continue
			}
			var out []string
			for _, alt := range splitTop(pattern[open+1 : i]) {
				rest, err := Expand(pattern[:open] + alt + pattern[i+1:])
				if err != nil {
					return nil, err
				}
				out = append(out, rest...)
			}
			return out, nil
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%w %q: unmatched {", ErrBadPattern, pattern)
	}
	return []string{pattern}, nil
}

// splitTop splits s at the commas outside nested braces.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// Match reports whether name matches pattern (without braces: see Expand).
// Both are slash-separated and relative.
func Match(pattern, name string) (bool, error) {
	return matchSegs(split(pattern), split(name))
}

func split(p string) []string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func matchSegs(pat, name []string) (bool, error) {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			for i := 0; i <= len(name); i++ {
				if ok, err := matchSegs(pat[1:], name[i:]); ok || err != nil {
					return ok, err
				}
			}
			return false, nil
		}
		if len(name) == 0 {
			return false, nil
		}
		ok, err := path.Match(pat[0], name[0])
		if err != nil {
			return false, fmt.Errorf("%w %q: %v", ErrBadPattern, strings.Join(pat, "/"), err)
		}
		if !ok {
			return false, nil
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0, nil
}

// Glob returns the paths in fsys (files and directories) that match any of
// the patterns, sorted and without duplicates. Patterns are relative to the
// root of fsys; braces are expanded. Symbolic links are matched but not
// followed.
func Glob(fsys fs.FS, patterns ...string) ([]string, error) {
	var pats []string
	for _, p := range patterns {
		alts, err := Expand(p)
		if err != nil {
			return nil, err
		}
		for _, a := range alts {
			a = strings.TrimPrefix(path.Clean("/"+a), "/")
			if _, err := Match(a, "x"); err != nil {
				return nil, err
			}
			pats = append(pats, a)
		}
	}
	seen := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // unreadable directory: skip it
		}
		if p == "." {
			return nil
		}
		for _, pat := range pats {
			if ok, _ := Match(pat, p); ok {
				seen[p] = true
				break
			}
		}
		if d.IsDir() && !mayMatchBelow(pats, p) {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("glob: %w", err)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// mayMatchBelow reports whether some pattern could match a path inside dir,
// so Glob walks only the directories that matter.
func mayMatchBelow(pats []string, dir string) bool {
	ds := split(dir)
	for _, p := range pats {
		if prefixMayMatch(split(p), ds) {
			return true
		}
	}
	return false
}

func prefixMayMatch(pat, dir []string) bool {
	for i, d := range dir {
		if i >= len(pat) {
			return false
		}
		if pat[i] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[i], d); !ok {
			return false
		}
	}
	return len(pat) > len(dir)
}
