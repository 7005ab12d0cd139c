package dirblob

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/internal/blobrules"
)

// PresignGet implements blob.Store: it returns
//
//	BaseURL + "/" + key + "?expires=<unix seconds>&sig=<hex HMAC-SHA256(Secret, key + "|" + expires)>"
//
// with the key's segments path-escaped. The URL is valid until expires,
// which is ttl from now rounded up to the second.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := blobrules.CheckKey(key); err != nil {
		return "", fmt.Errorf("presign: %w", err)
	}
	if err := blobrules.CheckTTL(ttl); err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	exp := s.now().Add(ttl)
	expires := exp.Unix()
	if exp.Nanosecond() > 0 {
		expires++
	}
	q := url.Values{"expires": {strconv.FormatInt(expires, 10)}, "sig": {s.sign(key, expires)}}
	return s.baseURL + "/" + escapeKey(key) + "?" + q.Encode(), nil
}

// sign returns the hex HMAC of key|expires. The expiry never contains "|",
// so the message names one key and one expiry.
func (s *Store) sign(key string, expires int64) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(key + "|" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// Handler serves presigned URLs: GET and HEAD of BaseURL's path + "/" + key
// with a valid, unexpired signature. Mount it where BaseURL points, without
// stripping the prefix (e.g. mux.Handle("/blob/", store.Handler())).
//
// It answers 403 for a missing, wrong or expired signature, 404 for a
// missing object (errors as JSON {"message": "..."}), and serves the object
// with its stored content type, Last-Modified and Range support. Every
// answer carries X-Content-Type-Options: nosniff, so browsers trust the
// stored type and never guess a more dangerous one; which types are safe to
// store for artifacts is the caller's decision.
//
// An http.ServeMux in front cleans paths, so keys with empty or "."
// segments ("a//b", "a/./b") are redirected away; serve those keys another
// way if they matter.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "only GET and HEAD are allowed")
		return
	}
	key, ok := s.keyOf(r.URL)
	expires, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	if !ok || err != nil || !s.validSignature(key, expires, r.URL.Query().Get("sig")) {
		writeError(w, http.StatusForbidden, "invalid signature")
		return
	}
	if !s.now().Before(time.Unix(expires, 0)) {
		writeError(w, http.StatusForbidden, "URL expired")
		return
	}
	o, err := s.open(key)
	if errors.Is(err, blob.ErrNotFound) {
		writeError(w, http.StatusNotFound, "object not found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot read object")
		return
	}
	defer func() { _ = o.f.Close() }() // read-only: nothing to lose
	w.Header().Set("Content-Type", o.info.ContentType)
	w.Header().Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "", o.info.LastModified, io.NewSectionReader(o.f, o.dataOff, o.info.Size))
}

// keyOf extracts the key from a request URL under basePath.
func (s *Store) keyOf(u *url.URL) (string, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), s.basePath+"/")
	if !ok {
		return "", false
	}
	segs := strings.Split(rest, "/")
	for i, seg := range segs {
		var err error
		if segs[i], err = url.PathUnescape(seg); err != nil {
			return "", false
		}
	}
	key := strings.Join(segs, "/")
	return key, blobrules.CheckKey(key) == nil
}

// validSignature compares in constant time, so timing tells nothing about
// how much of a forged signature was right.
func (s *Store) validSignature(key string, expires int64, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	want, err := hex.DecodeString(s.sign(key, expires))
	if err != nil {
		return false
	}
	return hmac.Equal(got, want)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg}) // the client is gone if this fails
}
