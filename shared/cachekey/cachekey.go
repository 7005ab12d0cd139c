// Package cachekey renders CircleCI cache keys and maps them to storage
// names. A save_cache or restore_cache key is a Go template written in the
// config; the build agent renders it inside the job, because
// {{ checksum "file" }} reads the job's files:
//
//	{{ .Branch }}            the pipeline's branch
//	{{ .Revision }}          the commit SHA
//	{{ .BuildNum }}          the job number
//	{{ .CheckoutKey }}       the checkout key's fingerprint ("" until keys exist)
//	{{ .Environment.NAME }}  an environment variable of the job ("" if unset)
//	{{ checksum "path" }}    base64 (standard, padded) of the SHA-256 of the file,
//	                         relative to the working directory, as CircleCI
//	{{ epoch }}              seconds since the Unix epoch
//	{{ arch }}               the operating system and CPU, e.g. arch1-linux-amd64
//
// Escape turns a rendered key into a storage-safe name such that a prefix of
// a key escapes to a prefix of its escaped form: restore_cache matches keys
// by prefix, and the blob port lists by prefix.
package cachekey

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// MaxKeyLength is the longest rendered key accepted (CircleCI's limit).
const MaxKeyLength = 900

// ErrInvalidKey: the rendered key is empty, too long or not valid text.
var ErrInvalidKey = errors.New("invalid cache key")

// Context is what a key template can refer to.
type Context struct {
	Branch      string
	Revision    string
	BuildNum    int64
	CheckoutKey string
	// Environment holds the job's environment variables.
	Environment map[string]string
	// Dir is the directory relative checksum paths start from (the step's
	// working directory).
	Dir string
	// Home expands a leading "~" in checksum paths.
	Home string
	// Now is the clock of {{ epoch }} (time.Now when nil).
	Now func() time.Time
}

// Render renders a key template. Errors name the template and what failed
// (a syntax error, a file that cannot be read).
func Render(tmpl string, c Context) (string, error) {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	funcs := template.FuncMap{
		"checksum": func(path string) (string, error) { return Checksum(resolve(path, c.Dir, c.Home)) },
		"epoch":    func() string { return strconv.FormatInt(now().Unix(), 10) },
		"arch":     Arch,
	}
	t, err := template.New("key").Funcs(funcs).Option("missingkey=zero").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("cache key %q: %w", tmpl, err)
	}
	env := c.Environment
	if env == nil {
		env = map[string]string{}
	}
	data := struct {
		Branch, Revision, CheckoutKey string
		BuildNum                      int64
		Environment                   map[string]string
	}{c.Branch, c.Revision, c.CheckoutKey, c.BuildNum, env}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("cache key %q: %w", tmpl, unwrapExec(err))
	}
	key := b.String()
	if err := Check(key); err != nil {
		return "", fmt.Errorf("cache key %q renders to %q: %w", tmpl, key, err)
	}
	return key, nil
}

// unwrapExec drops text/template's location prefix when a function failed,
// keeping the function's own message.
func unwrapExec(err error) error {
	var ee template.ExecError
	if errors.As(err, &ee) && errors.Unwrap(ee.Err) != nil {
		return ee.Err
	}
	return err
}

// Check reports whether a rendered key can be stored.
func Check(key string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidKey, len(key), MaxKeyLength)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("%w: contains a NUL byte", ErrInvalidKey)
	}
	return nil
}

func resolve(path, dir, home string) string {
	switch {
	case path == "~":
		return home
	case strings.HasPrefix(path, "~/"):
		return filepath.Join(home, path[2:])
	case filepath.IsAbs(path):
		return path
	}
	return filepath.Join(dir, path)
}

// Checksum is CircleCI's {{ checksum }}: base64 of the SHA-256 of the file.
func Checksum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// Arch is {{ arch }}: "arch1-<os>-<cpu>", so caches of different platforms
// never mix.
func Arch() string { return "arch1-" + runtime.GOOS + "-" + runtime.GOARCH }

// Escape maps a key to a name made of [A-Za-z0-9_-] and %XX escapes of
// every other byte ("." too, so ".." never appears). It works byte by byte,
// so Escape(prefix) is a prefix of Escape(key).
func Escape(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Unescape inverts Escape.
func Unescape(name string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '%' {
			b.WriteByte(name[i])
			continue
		}
		if i+2 >= len(name) {
			return "", fmt.Errorf("%w: truncated escape in %q", ErrInvalidKey, name)
		}
		v, err := strconv.ParseUint(name[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%w: bad escape in %q", ErrInvalidKey, name)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}
