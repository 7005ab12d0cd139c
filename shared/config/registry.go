package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrOrbNotFound is wrapped by an OrbRegistry that does not hold an orb.
var ErrOrbNotFound = errors.New("orb not found")

// OrbRef names a registry orb: namespace/name@version.
type OrbRef struct {
	Namespace string
	Name      string
	// Version is "1.2.3", a partial "1" or "1.2" (the newest matching),
	// "volatile" (the newest) or "dev:label".
	Version string
}

func (r OrbRef) String() string { return r.Namespace + "/" + r.Name + "@" + r.Version }

// exact reports whether the version names one release (not a range).
func (r OrbRef) exact() bool {
	return strings.HasPrefix(r.Version, "dev:") || strings.Count(r.Version, ".") == 2
}

var (
	orbRefRE     = regexp.MustCompile(`^([a-z0-9][a-z0-9_-]*)/([a-z0-9][a-z0-9_-]*)@(.+)$`)
	orbVersionRE = regexp.MustCompile(`^(volatile|dev:[A-Za-z0-9._-]+|\d+(\.\d+){0,2})$`)
)

// ParseOrbRef parses "namespace/name@version".
func ParseOrbRef(s string) (OrbRef, error) {
	m := orbRefRE.FindStringSubmatch(s)
	if m == nil {
		return OrbRef{}, fmt.Errorf("orb reference %q is not namespace/name@version (lowercase letters, digits, - and _)", s)
	}
	if !orbVersionRE.MatchString(m[3]) {
		return OrbRef{}, fmt.Errorf("orb reference %q: version %q is not x.y.z, x.y, x, volatile or dev:label", s, m[3])
	}
	return OrbRef{Namespace: m[1], Name: m[2], Version: m[3]}, nil
}

// OrbRegistry gives the source of registry orbs. Compile asks it for every
// namespace/name@version a config (or an orb) imports; nothing else.
type OrbRegistry interface {
	// Orb returns the orb's source (as `circleci orb source` prints it) and
	// a name for it in error messages (its file). It returns an error
	// wrapping ErrOrbNotFound when it does not hold the orb.
	Orb(ref OrbRef) (src []byte, name string, err error)
}

// URLOrbFetcher reads an orb imported by URL. FetchOrb returns its source,
// or an error saying why it may not or cannot be read (not on the
// allow-list, unreachable); the error is reported at the orb's line.
type URLOrbFetcher interface {
	FetchOrb(url string) ([]byte, error)
}

// IsURLOrb reports whether an orb reference is a URL.
func IsURLOrb(ref string) bool {
	return strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://")
}

// DirRegistry is the local orb registry: a directory holding one file per
// orb release, <dir>/<namespace>/<name>@<version>.yml, written by
// `orbit orb import`. Partial versions (@1, @1.2) and @volatile resolve to
// the newest matching release it holds. It needs no network.
type DirRegistry string

var _ OrbRegistry = DirRegistry("")

// DefaultOrbDir is the local orb registry's directory: $ORBIT_ORB_DIR, else
// $ORBIT_DATA/orbs, else ~/.orbit/orbs.
func DefaultOrbDir() string {
	if d := os.Getenv("ORBIT_ORB_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("ORBIT_DATA"); d != "" {
		return filepath.Join(d, "orbs")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".orbit", "orbs")
	}
	return filepath.Join(".orbit", "orbs")
}

func (d DirRegistry) String() string { return string(d) }

// path is where an exact release lives.
func (d DirRegistry) path(ref OrbRef) string {
	return filepath.Join(string(d), ref.Namespace, ref.Name+"@"+ref.Version+".yml")
}

// Orb reads an orb's source.
func (d DirRegistry) Orb(ref OrbRef) ([]byte, string, error) {
	path := d.path(ref)
	if !ref.exact() {
		v, err := d.newest(ref)
		if err != nil {
			return nil, "", err
		}
		ref.Version = v
		path = d.path(ref)
	}
	src, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("%s: %w", ref, ErrOrbNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read orb %s: %w", ref, err)
	}
	return src, path, nil
}

// newest finds the newest release matching a partial version.
func (d DirRegistry) newest(ref OrbRef) (string, error) {
	var prefix []int
	if ref.Version != "volatile" {
		prefix, _ = semver(ref.Version)
	}
	versions, err := d.Versions(ref.Namespace, ref.Name)
	if err != nil {
		return "", err
	}
	for _, v := range versions {
		if parts, _ := semver(v); slicesHasPrefix(parts, prefix) {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s: %w", ref, ErrOrbNotFound)
}

// Versions lists the released versions (x.y.z) of namespace/name the
// registry holds, newest first; none is an empty list.
func (d DirRegistry) Versions(namespace, name string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(string(d), namespace))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read orb registry: %w", err)
	}
	type release struct {
		v     string
		parts []int
	}
	var rs []release
	for _, e := range entries {
		v, ok := strings.CutPrefix(e.Name(), name+"@")
		if !ok {
			continue
		}
		v, ok = strings.CutSuffix(v, ".yml")
		parts, valid := semver(v)
		if ok && valid && len(parts) == 3 {
			rs = append(rs, release{v, parts})
		}
	}
	slices.SortFunc(rs, func(a, b release) int { return compareInts(b.parts, a.parts) })
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.v)
	}
	return out, nil
}

// Resolve returns the exact release a reference names (@volatile and
// partial versions resolved to the newest matching release held), or
// ErrOrbNotFound.
func (d DirRegistry) Resolve(ref OrbRef) (OrbRef, error) {
	if !ref.exact() {
		v, err := d.newest(ref)
		if err != nil {
			return ref, err
		}
		ref.Version = v
	}
	if _, err := os.Stat(d.path(ref)); err != nil {
		return ref, fmt.Errorf("%s: %w", ref, ErrOrbNotFound)
	}
	return ref, nil
}

// Import stores an orb release's source, after checking it is an orb. It
// returns the file written. Importing the same release again replaces it.
func (d DirRegistry) Import(ref OrbRef, src []byte) (string, error) {
	if !ref.exact() {
		return "", fmt.Errorf("import %s: give an exact version (x.y.z or dev:label)", ref)
	}
	if err := ValidateOrb(src, ref.String()); err != nil {
		return "", err
	}
	path := d.path(ref)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".import-*")
	if err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	return path, nil
}

// ValidateOrb checks an orb's source on its own: YAML, the orb keys, and
// its commands, executors and jobs with their parameters. The orbs it
// imports are not resolved. name names the source in errors.
func ValidateOrb(src []byte, name string) error {
	c := newCompiler(Options{Filename: name, Orbs: DirRegistry("")})
	c.v21, c.parser.v21 = true, true
	root := parseDocument(src, c.parser.errs)
	if root != nil {
		c.parseOrbBody(newScope("", c.parser), root, "", 0, false)
	}
	if c.parser.count() > 0 {
		return c.parser.sink().list.sort(name)
	}
	return nil
}

// semver parses up to three dot-separated numbers.
func semver(v string) ([]int, bool) {
	parts := strings.Split(v, ".")
	if len(parts) > 3 {
		return nil, false
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func slicesHasPrefix(s, prefix []int) bool {
	if len(prefix) > len(s) {
		return false
	}
	for i := range prefix {
		if s[i] != prefix[i] {
			return false
		}
	}
	return true
}

func compareInts(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return len(a) - len(b)
}
