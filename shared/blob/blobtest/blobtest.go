// Package blobtest is the conformance suite of the blob port: every driver
// runs Run against a fresh, empty store per test, so the embedded driver
// cannot drift from S3.
//
// The suite fetches presigned URLs with http.DefaultClient, so the driver's
// URLs must be reachable from the test (dirblob's test serves its handler
// with httptest; s3blob's serves gofakes3). Subtests run in parallel.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/blob"
)

// NewStore makes a fresh, empty store for one test and arranges its cleanup
// with t.Cleanup. It fails t when it cannot.
type NewStore func(t *testing.T) blob.Store

// Run runs the conformance suite against the driver that newStore makes.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s blob.Store)
	}{
		{"PutGetHead", testPutGetHead},
		{"DefaultContentType", testDefaultContentType},
		{"Overwrite", testOverwrite},
		{"EmptyObject", testEmptyObject},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"Ranges", testRanges},
		{"List", testList},
		{"ListOrderAndOddKeys", testListOrder},
		{"ListPaging", testListPaging},
		{"InvalidKeys", testInvalidKeys},
		{"PresignedURL", testPresign},
		{"PresignedURLExpires", testPresignExpires},
		{"PresignedURLWithResponseHeaders", testPresignWith},
		{"ConcurrentPutGet", testConcurrentPutGet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func put(ctx context.Context, t *testing.T, s blob.Store, key, content, contentType string) {
	t.Helper()
	require.NoError(t, s.Put(ctx, key, strings.NewReader(content), blob.PutOptions{ContentType: contentType}), "put %q", key)
}

func get(ctx context.Context, t *testing.T, s blob.Store, key string, rng *blob.Range) (string, blob.Info) {
	t.Helper()
	rc, info, err := s.Get(ctx, key, rng)
	require.NoError(t, err, "get %q", key)
	defer func() { assert.NoError(t, rc.Close()) }()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "read %q", key)
	return string(b), info
}

// onlyReader hides every method but Read, as a network stream would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testPutGetHead(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	before := time.Now()
	put(ctx, t, s, "projects/gh/acme/api/1/step-1.log", "hello, world\n", "text/plain; charset=utf-8")
	after := time.Now()

	content, info := get(ctx, t, s, "projects/gh/acme/api/1/step-1.log", nil)
	assert.Equal(t, "hello, world\n", content)
	assert.Equal(t, "projects/gh/acme/api/1/step-1.log", info.Key)
	assert.EqualValues(t, 13, info.Size)
	assert.Equal(t, "text/plain; charset=utf-8", info.ContentType, "the content type is kept as given")
	assert.WithinRange(t, info.LastModified, before.Add(-2*time.Second), after.Add(2*time.Second))

	head, err := s.Head(ctx, "projects/gh/acme/api/1/step-1.log")
	require.NoError(t, err)
	assert.Equal(t, info.Key, head.Key)
	assert.Equal(t, info.Size, head.Size)
	assert.Equal(t, info.ContentType, head.ContentType)
	assert.WithinDuration(t, info.LastModified, head.LastModified, time.Second)

	// A reader of unknown length, larger than one read, as uploads are.
	big := bytes.Repeat([]byte("0123456789abcdef"), 64*1024+3)
	require.NoError(t, s.Put(ctx, "big.bin", onlyReader{bytes.NewReader(big)}, blob.PutOptions{}))
	content, info = get(ctx, t, s, "big.bin", nil)
	assert.EqualValues(t, len(big), info.Size)
	assert.True(t, bytes.Equal(big, []byte(content)), "a 1 MiB object round-trips")
}

func testDefaultContentType(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	put(ctx, t, s, "no-type", "x", "")
	info, err := s.Head(ctx, "no-type")
	require.NoError(t, err)
	assert.Equal(t, "application/octet-stream", info.ContentType)

	err = s.Put(ctx, "bad-type", strings.NewReader("x"), blob.PutOptions{ContentType: "text/plain\r\nX-Evil: 1"})
	assert.Error(t, err, "a content type that is no header value is refused")
}

func testOverwrite(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	put(ctx, t, s, "k", "first version, longer", "text/plain")
	put(ctx, t, s, "k", "second", "application/json")
	content, info := get(ctx, t, s, "k", nil)
	assert.Equal(t, "second", content)
	assert.EqualValues(t, 6, info.Size)
	assert.Equal(t, "application/json", info.ContentType)
}

func testEmptyObject(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	put(ctx, t, s, "empty", "", "text/plain")
	content, info := get(ctx, t, s, "empty", nil)
	assert.Empty(t, content)
	assert.EqualValues(t, 0, info.Size)
	_, _, err := s.Get(ctx, "empty", &blob.Range{Offset: 0, Length: -1})
	assert.ErrorIs(t, err, blob.ErrInvalidRange, "any range of an empty object is unsatisfiable")
}

func testMissing(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	_, _, err := s.Get(ctx, "missing", nil)
	assert.ErrorIs(t, err, blob.ErrNotFound, "get")
	_, _, err = s.Get(ctx, "missing", &blob.Range{Offset: 1, Length: 2})
	assert.ErrorIs(t, err, blob.ErrNotFound, "ranged get")
	_, err = s.Head(ctx, "missing")
	assert.ErrorIs(t, err, blob.ErrNotFound, "head")
	assert.NoError(t, s.Delete(ctx, "missing"), "delete of a missing key succeeds")

	put(ctx, t, s, "dir/file", "x", "")
	_, err = s.Head(ctx, "dir")
	assert.ErrorIs(t, err, blob.ErrNotFound, "a prefix of a key is no object")
	_, err = s.Head(ctx, "dir/file/child")
	assert.ErrorIs(t, err, blob.ErrNotFound, "a key under an object's key is no object")
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	put(ctx, t, s, "a/b/c", "x", "")
	put(ctx, t, s, "a/b/d", "y", "")
	require.NoError(t, s.Delete(ctx, "a/b/c"))
	_, err := s.Head(ctx, "a/b/c")
	assert.ErrorIs(t, err, blob.ErrNotFound)
	page, err := s.List(ctx, "a/", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a/b/d"}, keys(page))

	require.NoError(t, s.Delete(ctx, "a/b/d"))
	page, err = s.List(ctx, "", "", 0)
	require.NoError(t, err)
	assert.Empty(t, page.Objects)
	put(ctx, t, s, "a/b/c", "again", "")
	content, _ := get(ctx, t, s, "a/b/c", nil)
	assert.Equal(t, "again", content, "a deleted key can be put again")
}

func testRanges(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	put(ctx, t, s, "digits", "0123456789", "text/plain")

	tests := []struct {
		name string
		rng  blob.Range
		want string
		err  error
	}{
		{name: "middle", rng: blob.Range{Offset: 2, Length: 3}, want: "234"},
		{name: "first byte", rng: blob.Range{Offset: 0, Length: 1}, want: "0"},
		{name: "last byte", rng: blob.Range{Offset: 9, Length: 1}, want: "9"},
		{name: "to the end", rng: blob.Range{Offset: 6, Length: -1}, want: "6789"},
		{name: "whole", rng: blob.Range{Offset: 0, Length: -1}, want: "0123456789"},
		{name: "crossing the end", rng: blob.Range{Offset: 8, Length: 10}, want: "89"},
		{name: "empty", rng: blob.Range{Offset: 3, Length: 0}, want: ""},
		{name: "at the end", rng: blob.Range{Offset: 10, Length: 1}, err: blob.ErrInvalidRange},
		{name: "past the end", rng: blob.Range{Offset: 100, Length: -1}, err: blob.ErrInvalidRange},
		{name: "negative offset", rng: blob.Range{Offset: -1, Length: 2}, err: blob.ErrInvalidRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := tc.rng
			if tc.err != nil {
				_, _, err := s.Get(ctx, "digits", &rng)
				assert.ErrorIs(t, err, tc.err)
				return
			}
			content, info := get(ctx, t, s, "digits", &rng)
			assert.Equal(t, tc.want, content)
			assert.EqualValues(t, 10, info.Size, "Info describes the whole object")
			assert.Equal(t, "text/plain", info.ContentType)
		})
	}
}

func keys(page blob.ListPage) []string {
	out := make([]string, 0, len(page.Objects))
	for _, o := range page.Objects {
		out = append(out, o.Key)
	}
	return out
}

func testList(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	for _, k := range []string{"list/c", "list/a", "list/b/2", "list/b/1", "list-x", "other", "lis"} {
		put(ctx, t, s, k, "content of "+k, "text/plain")
	}

	tests := []struct {
		name       string
		prefix     string
		startAfter string
		limit      int
		want       []string
		truncated  bool
	}{
		{name: "prefix", prefix: "list/", want: []string{"list/a", "list/b/1", "list/b/2", "list/c"}},
		{name: "prefix without slash", prefix: "list", want: []string{"list-x", "list/a", "list/b/1", "list/b/2", "list/c"}},
		{name: "nested prefix", prefix: "list/b/", want: []string{"list/b/1", "list/b/2"}},
		{name: "partial segment", prefix: "list/b", want: []string{"list/b/1", "list/b/2"}},
		{name: "whole key as prefix", prefix: "list/a", want: []string{"list/a"}},
		{name: "no match", prefix: "nothing/", want: []string{}},
		{name: "all", want: []string{"lis", "list-x", "list/a", "list/b/1", "list/b/2", "list/c", "other"}},
		{name: "limit", prefix: "list/", limit: 2, want: []string{"list/a", "list/b/1"}, truncated: true},
		{name: "limit exactly", prefix: "list/", limit: 4, want: []string{"list/a", "list/b/1", "list/b/2", "list/c"}},
		{name: "start after a key", prefix: "list/", startAfter: "list/b/1", want: []string{"list/b/2", "list/c"}},
		{name: "start after a non-key", prefix: "list/", startAfter: "list/b", want: []string{"list/b/1", "list/b/2", "list/c"}},
		{name: "start after everything", prefix: "list/", startAfter: "list/z", want: []string{}},
		{name: "start before the prefix", prefix: "list/b/", startAfter: "a", want: []string{"list/b/1", "list/b/2"}},
		{name: "limit above 1000", prefix: "list/b/", limit: 5000, want: []string{"list/b/1", "list/b/2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.List(ctx, tc.prefix, tc.startAfter, tc.limit)
			require.NoError(t, err)
			assert.Equal(t, tc.want, keys(page))
			assert.Equal(t, tc.truncated, page.Truncated, "truncated")
			for _, o := range page.Objects {
				assert.EqualValues(t, len("content of "+o.Key), o.Size, "size of %s", o.Key)
				assert.Empty(t, o.ContentType, "List carries no content type (S3 lists none)")
				assert.False(t, o.LastModified.IsZero(), "LastModified of %s", o.Key)
			}
		})
	}
}

// oddKeys are valid keys that stress escaping, case and ordering.
var oddKeys = []string{
	"A", "a", "a-c", "a.b", "a/b", "a0", "a/", "a//b", "a/./b", "a/b c?d#e%f+g&h=i",
	"Case/x", "case/x", "ünï/cødé/✓", "~tilde", "a|b", "'quote'",
	strings.Repeat("s", 300) + "/x",                            // one long segment
	strings.Repeat("L", 300),                                   // a long last segment
	strings.Repeat("L", 300) + "/child",                        // sharing it as a directory
	strings.Repeat("L", 299) + "0",                             // differing at its end
	strings.Repeat("k", 1024),                                  // the longest key
	strings.Repeat("ü", 200) + "/" + strings.Repeat("Ä/", 100), // deep and wide
}

func testListOrder(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	for _, k := range oddKeys {
		put(ctx, t, s, k, k, "")
	}
	want := append([]string(nil), oddKeys...)
	slices.Sort(want) // Go compares strings bytewise, the order S3 lists in

	page, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	assert.Equal(t, want, keys(page), "keys in byte order")
	for _, k := range oddKeys {
		content, info := get(ctx, t, s, k, nil)
		assert.Equal(t, k, content, "content of %q", k)
		assert.Equal(t, k, info.Key)
	}

	// Page through one key at a time: each startAfter is a key.
	var paged []string
	after := ""
	for i := 0; i <= len(oddKeys); i++ {
		page, err := s.List(ctx, "", after, 1)
		require.NoError(t, err)
		paged = append(paged, keys(page)...)
		if !page.Truncated {
			break
		}
		after = page.Objects[len(page.Objects)-1].Key
	}
	assert.Equal(t, want, paged, "paging one by one")

	page, err = s.List(ctx, "a/", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a/", "a/./b", "a//b", "a/b", "a/b c?d#e%f+g&h=i"}, keys(page))
	page, err = s.List(ctx, strings.Repeat("L", 299), "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{strings.Repeat("L", 299) + "0", strings.Repeat("L", 300), strings.Repeat("L", 300) + "/child"}, keys(page))
}

func testListPaging(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("page/%03d", i)
		want = append(want, k)
		put(ctx, t, s, k, "x", "")
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "paging ends")
		page, err := s.List(ctx, "page/", after, 10)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Objects), 10)
		got = append(got, keys(page)...)
		if !page.Truncated {
			break
		}
		after = page.Objects[len(page.Objects)-1].Key
	}
	assert.Equal(t, want, got)
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	bad := []struct{ name, key string }{
		{"empty", ""},
		{"leading slash", "/abs"},
		{"dot dot segment", "a/../b"},
		{"dot dot inside", "a..b"},
		{"just dot dot", ".."},
		{"backslash", `a\b`},
		{"NUL", "a\x00b"},
		{"too long", strings.Repeat("k", 1025)},
		{"not UTF-8", "a\xffb"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Put(ctx, tc.key, strings.NewReader("x"), blob.PutOptions{})
			assert.ErrorIs(t, err, blob.ErrInvalidKey, "put")
			_, _, err = s.Get(ctx, tc.key, nil)
			assert.ErrorIs(t, err, blob.ErrInvalidKey, "get")
			_, err = s.Head(ctx, tc.key)
			assert.ErrorIs(t, err, blob.ErrInvalidKey, "head")
			assert.ErrorIs(t, s.Delete(ctx, tc.key), blob.ErrInvalidKey, "delete")
			_, err = s.PresignGet(ctx, tc.key, time.Minute)
			assert.ErrorIs(t, err, blob.ErrInvalidKey, "presign")
		})
	}
	page, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	assert.Empty(t, page.Objects, "nothing was stored")
}

func fetch(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "GET %s", url)
	defer func() { assert.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func testPresign(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	tests := []struct{ name, key, contentType string }{
		{"plain", "projects/gh/acme/api/7/artifacts/report.txt", "text/plain"},
		{"escaping", "artifacts/a b?c#d%e+f&g=h;i/ünï ✓.json", "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			put(ctx, t, s, tc.key, "presigned content", tc.contentType)
			url, err := s.PresignGet(ctx, tc.key, time.Hour)
			require.NoError(t, err)

			resp, body := fetch(t, url, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
			assert.Equal(t, "presigned content", body)
			assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))

			resp, body = fetch(t, url, http.Header{"Range": {"bytes=4-9"}})
			require.Equal(t, http.StatusPartialContent, resp.StatusCode, "ranged GET: %s", body)
			assert.Equal(t, "igned ", body)
		})
	}

	url, err := s.PresignGet(ctx, "not/there", time.Hour)
	require.NoError(t, err, "presigning does not check existence")
	resp, _ := fetch(t, url, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a presigned URL of a missing object answers 404")

	for _, ttl := range []time.Duration{0, -time.Second, 8 * 24 * time.Hour} {
		_, err := s.PresignGet(ctx, "k", ttl)
		assert.Error(t, err, "ttl %s", ttl)
	}
}

// testPresignWith: a presigned GET answers with the URL's content type and
// disposition instead of the stored type, ranges included; the overrides
// are signed (a URL whose override was changed is refused), and values
// that are no header values are refused when presigning.
func testPresignWith(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	const key, content = "projects/gh/acme/api/7/artifacts/0/site/index.html", "<script>alert(1)</script>"
	put(ctx, t, s, key, content, "text/html; charset=utf-8")

	tests := []struct {
		name        string
		h           blob.ResponseHeaders
		contentType string
	}{
		{"type", blob.ResponseHeaders{ContentType: "text/plain; charset=utf-8"}, "text/plain; charset=utf-8"},
		{"type and disposition", blob.ResponseHeaders{ContentType: "application/octet-stream",
			ContentDisposition: `attachment; filename="index.html"`}, "application/octet-stream"},
		{"disposition only", blob.ResponseHeaders{ContentDisposition: "attachment"}, "text/html; charset=utf-8"},
		{"none", blob.ResponseHeaders{}, "text/html; charset=utf-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.PresignGetWith(ctx, key, time.Hour, tc.h)
			require.NoError(t, err)
			resp, body := fetch(t, u, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", u, body)
			assert.Equal(t, content, body)
			assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))
			assert.Equal(t, tc.h.ContentDisposition, resp.Header.Get("Content-Disposition"))

			resp, body = fetch(t, u, http.Header{"Range": {"bytes=1-6"}})
			require.Equal(t, http.StatusPartialContent, resp.StatusCode, "ranged GET: %s", body)
			assert.Equal(t, "script", body)
			assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))
		})
	}

	// Whoever holds the URL cannot choose another type: the override is signed.
	u, err := s.PresignGetWith(ctx, key, time.Hour, blob.ResponseHeaders{ContentType: "text/plain"})
	require.NoError(t, err)
	parsed, err := neturl.Parse(u)
	require.NoError(t, err)
	q, changed := parsed.Query(), false
	for k, vs := range q {
		if len(vs) == 1 && vs[0] == "text/plain" {
			q.Set(k, "text/html")
			changed = true
		}
	}
	require.True(t, changed, "the URL carries its content type: %s", u)
	parsed.RawQuery = q.Encode()
	resp, body := fetch(t, parsed.String(), nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a changed override is refused: %s", body)
	assert.NotContains(t, body, content)

	for _, h := range []blob.ResponseHeaders{
		{ContentType: "text/plain\r\nX-Evil: 1"},
		{ContentDisposition: "attachment\nX-Evil: 1"},
		{ContentDisposition: strings.Repeat("a", 2000)},
	} {
		_, err := s.PresignGetWith(ctx, key, time.Hour, h)
		assert.Error(t, err, "%+v is no header value", h)
	}
	_, err = s.PresignGetWith(ctx, "/bad", time.Hour, blob.ResponseHeaders{ContentType: "text/plain"})
	assert.ErrorIs(t, err, blob.ErrInvalidKey)
	_, err = s.PresignGetWith(ctx, key, 0, blob.ResponseHeaders{ContentType: "text/plain"})
	assert.Error(t, err, "ttl 0")
}

func testPresignExpires(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	put(ctx, t, s, "short-lived", "soon gone", "text/plain")

	const ttl = 2 * time.Second
	signed := time.Now()
	url, err := s.PresignGet(ctx, "short-lived", ttl)
	require.NoError(t, err)
	resp, _ := fetch(t, url, nil)
	if time.Since(signed) < ttl/2 {
		assert.Equal(t, http.StatusOK, resp.StatusCode, "fetchable before expiry")
	}

	deadline := signed.Add(ttl + 10*time.Second)
	for {
		resp, body := fetch(t, url, nil)
		if resp.StatusCode != http.StatusOK {
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "an expired URL is refused: %s", body)
			assert.GreaterOrEqual(t, time.Since(signed), ttl/2, "not refused long before expiry")
			assert.NotContains(t, body, "soon gone")
			return
		}
		require.True(t, time.Now().Before(deadline), "URL still works %s after its %s expiry", time.Since(signed), ttl)
		time.Sleep(200 * time.Millisecond)
	}
}

func testConcurrentPutGet(t *testing.T, s blob.Store) {
	ctx := testContext(t)
	versions := [][]byte{
		bytes.Repeat([]byte("a"), 200*1024),
		bytes.Repeat([]byte("b"), 150*1024+7),
	}
	require.NoError(t, s.Put(ctx, "contended", bytes.NewReader(versions[0]), blob.PutOptions{}))

	const writers, readers, rounds = 3, 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds+readers*rounds)
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				v := versions[(w+i)%2]
				if err := s.Put(ctx, "contended", bytes.NewReader(v), blob.PutOptions{}); err != nil {
					errs <- fmt.Errorf("put: %w", err)
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				rc, _, err := s.Get(ctx, "contended", nil)
				if err != nil {
					errs <- fmt.Errorf("get: %w", err)
					continue
				}
				b, err := io.ReadAll(rc)
				if cerr := rc.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					errs <- fmt.Errorf("read: %w", err)
					continue
				}
				if !bytes.Equal(b, versions[0]) && !bytes.Equal(b, versions[1]) {
					errs <- errors.New("torn read: content is neither version")
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
