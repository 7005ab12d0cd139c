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
	return s.PresignGetWith(ctx, key, ttl, blob.ResponseHeaders{})
}

// PresignGetWith implements blob.Store: PresignGet's URL, plus "ct" and
// "cd" query parameters with the overrides when either is set, and then
// the signature covers them too:
//
//	HMAC-SHA256(Secret, "v2" NUL key NUL expires NUL ct NUL cd)
//
// Keys and header values contain no NUL, and a message without overrides
// (PresignGet's) contains none, so no URL's signature fits another's.
func (s *Store) PresignGetWith(ctx context.Context, key string, ttl time.Duration, h blob.ResponseHeaders) (string, error) {
	if err := blobrules.CheckKey(key); err != nil {
		return "", fmt.Errorf("presign: %w", err)
	}
	if err := blobrules.CheckTTL(ttl); err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	if err := blobrules.ResponseHeaders(h); err != nil {
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
	q := url.Values{"expires": {strconv.FormatInt(expires, 10)}, "sig": {s.sign(key, expires, h)}}
	if h.ContentType != "" {
		q.Set("ct", h.ContentType)
	}
	if h.ContentDisposition != "" {
		q.Set("cd", h.ContentDisposition)
	}
	return s.baseURL + "/" + escapeKey(key) + "?" + q.Encode(), nil
}

// sign returns the hex HMAC of a URL's key, expiry and overrides. Without
// overrides the message is key|expires (the expiry never contains "|", so
// it names one key and one expiry); with them, NUL-separated fields after
// "v2".
func (s *Store) sign(key string, expires int64, h blob.ResponseHeaders) string {
	m := hmac.New(sha256.New, s.secret)
	exp := strconv.FormatInt(expires, 10)
	if h == (blob.ResponseHeaders{}) {
		m.Write([]byte(key + "|" + exp))
	} else {
		m.Write([]byte("v2\x00" + key + "\x00" + exp + "\x00" + h.ContentType + "\x00" + h.ContentDisposition))
	}
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
// with its stored content type (or the URL's signed override, with its
// Content-Disposition), Last-Modified and Range support. Every
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
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	h := blob.ResponseHeaders{ContentType: q.Get("ct"), ContentDisposition: q.Get("cd")}
	if !ok || err != nil || blobrules.ResponseHeaders(h) != nil || !s.validSignature(key, expires, h, q.Get("sig")) {
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
	if h.ContentType != "" {
		w.Header().Set("Content-Type", h.ContentType)
	}
	if h.ContentDisposition != "" {
		w.Header().Set("Content-Disposition", h.ContentDisposition)
	}
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
func (s *Store) validSignature(key string, expires int64, h blob.ResponseHeaders, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	want, err := hex.DecodeString(s.sign(key, expires, h))
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
