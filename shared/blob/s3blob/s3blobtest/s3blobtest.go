// Package s3blobtest serves an in-process S3 for the tests of s3blob and of
// what runs over it (the taskfiles service handing out presigned PUTs):
// gofakes3 in memory, behind the check of presigned URLs that gofakes3
// lacks.
//
// gofakes3 verifies no signature at all, so on its own an expired URL, a
// URL whose key was changed or an upload without the signed Content-Type
// would all succeed. Server refuses them as S3 does (403 with S3's error
// code): a query-signed request past X-Amz-Date + X-Amz-Expires on the
// server's clock, and one whose X-Amz-Signature is not the SigV4 signature
// of the request as received (method, path, query, and the headers named in
// X-Amz-SignedHeaders with the values the request carries). The signature
// is recomputed with the SDK's own signer: this cannot catch a SigV4 bug
// that signer and checker share, but catches a URL that does not cover what
// it should and a client that does not send what was signed. Requests
// signed in an Authorization header (the SDK's own calls) pass unchecked.
//
// NewMotoServer puts the same check in front of moto_server, with
// ResponseOverrides: moto 5.2.1 verifies no query signature either, and
// ignores GetObject's response-* parameters (its s3/responses.py reads
// none), which S3 and gofakes3 apply. It also sends moto one PUT of a key
// at a time: two concurrent PutObjects of one key make moto 5.2.1 answer
// 500 (the first's ETag is read from a buffer the second closed:
// "ValueError: I/O operation on closed file" in s3/models.py), a moto bug
// S3 does not have. GETs stay concurrent with the PUTs, so the suite's
// torn-read check still runs against moto.
package s3blobtest

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/blob/s3blob"
)

// Creds are the only credentials Server accepts on presigned URLs; its
// Client signs with them.
var Creds = aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}

// Region is the region of Client.
const Region = "us-east-1"

// Server is a running in-memory S3.
type Server struct {
	// URL is the endpoint, e.g. "http://127.0.0.1:41234".
	URL string
	// Client speaks to it, path-style, with Creds.
	Client *s3.Client
	skew   atomic.Int64 // nanoseconds added to time.Now by the expiry check
}

// NewServer serves a fresh, empty S3 until the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	return serve(t, gofakes3.New(s3mem.New()).Server())
}

// NewMotoServer serves moto_server at endpoint (ORBIT_MOTO_ENDPOINT) behind
// the presigned-URL check and ResponseOverrides, until the test ends, so
// that moto answers presigned GETs as S3 does. Its buckets outlive the
// test, as moto does.
func NewMotoServer(t testing.TB, endpoint string) *Server {
	t.Helper()
	target, err := url.Parse(endpoint)
	require.NoError(t, err, "moto endpoint")
	return serve(t, onePutPerKey(ResponseOverrides(httputil.NewSingleHostReverseProxy(target))))
}

// onePutPerKey serialises PUTs of one URL path (one object).
func onePutPerKey(next http.Handler) http.Handler {
	var mu sync.Mutex
	locks := map[string]*sync.Mutex{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			next.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		l, ok := locks[r.URL.Path]
		if !ok {
			l = &sync.Mutex{}
			locks[r.URL.Path] = l
		}
		mu.Unlock()
		l.Lock()
		defer l.Unlock()
		next.ServeHTTP(w, r)
	})
}

func serve(t testing.TB, backend http.Handler) *Server {
	t.Helper()
	s := &Server{}
	srv := httptest.NewServer(s.checkPresigned(backend))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.Client = NewClient(srv.URL)
	return s
}

// responseParams are GetObject's query parameters that replace a header of
// a successful answer, as S3 documents them.
var responseParams = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-disposition": "Content-Disposition",
	"response-content-language":    "Content-Language",
	"response-content-encoding":    "Content-Encoding",
	"response-cache-control":       "Cache-Control",
	"response-expires":             "Expires",
}

// ResponseOverrides applies the response-* parameters of a query-signed GET
// or HEAD to a successful (2xx) answer of next, as S3 does, for S3
// emulators that ignore them (moto 5.2.1). It checks no signature: put it
// behind a check that does (NewMotoServer) or where only the header
// matters.
func ResponseOverrides(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !q.Has("X-Amz-Signature") {
			next.ServeHTTP(w, r)
			return
		}
		set := http.Header{}
		for param, header := range responseParams {
			if v := q.Get(param); v != "" {
				set.Set(header, v)
			}
		}
		next.ServeHTTP(&overriding{ResponseWriter: w, set: set}, r)
	})
}

// overriding replaces headers of a 2xx answer as it is written.
type overriding struct {
	http.ResponseWriter
	set   http.Header
	wrote bool
}

func (o *overriding) WriteHeader(code int) {
	if !o.wrote && code >= 200 && code < 300 {
		for k, v := range o.set {
			o.Header()[k] = v
		}
	}
	o.wrote = true
	o.ResponseWriter.WriteHeader(code)
}

func (o *overriding) Write(b []byte) (int, error) {
	if !o.wrote {
		o.WriteHeader(http.StatusOK)
	}
	return o.ResponseWriter.Write(b)
}

// Flush passes on streaming.
func (o *overriding) Flush() {
	if f, ok := o.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// NewClient returns a client of the S3 at endpoint (Server, or moto_server)
// that signs with Creds.
func NewClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(strings.TrimSuffix(endpoint, "/")),
		UsePathStyle: true,
		Credentials:  credentials.StaticCredentialsProvider{Value: Creds},
	})
}

// Advance moves the clock that presigned URLs expire by forward by d, so
// that tests need not sleep past an expiry.
func (s *Server) Advance(d time.Duration) { s.skew.Add(int64(d)) }

func (s *Server) now() time.Time { return time.Now().Add(time.Duration(s.skew.Load())) }

// NewStore returns a store on a fresh bucket of s.
func (s *Server) NewStore(t testing.TB) *s3blob.Store {
	t.Helper()
	store, _ := NewBucket(t, s.Client)
	return store
}

// NewBucket creates a bucket with a fresh random name in the S3 that client
// speaks to, so that tests sharing a long-lived server (moto) do not meet,
// and returns a store on it and its name. The bucket is left behind.
func NewBucket(t testing.TB, client *s3.Client) (*s3blob.Store, string) {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	bucket := "orbit-test-" + hex.EncodeToString(b[:])
	_, err = client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err, "create bucket %s", bucket)
	store, err := s3blob.New(client, s3.NewPresignClient(client), bucket)
	require.NoError(t, err)
	return store, bucket
}

// checkPresigned refuses the presigned requests that S3 would refuse.
func (s *Server) checkPresigned(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("X-Amz-Signature") {
			if code, msg := verify(r, s.now()); code != "" {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				_, _ = fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// verify returns S3's error code and message for a presigned request that
// S3 would refuse at now, or "" when S3 would take it.
func verify(r *http.Request, now time.Time) (code, msg string) {
	q := r.URL.Query()
	signed, err1 := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	secs, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
	cred := strings.Split(q.Get("X-Amz-Credential"), "/") // key/date/region/service/aws4_request
	if err1 != nil || err2 != nil || len(cred) != 5 || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return "AuthorizationQueryParametersError", "malformed query-string authentication"
	}
	if now.After(signed.Add(time.Duration(secs) * time.Second)) {
		return "AccessDenied", "Request has expired"
	}
	if cred[0] != Creds.AccessKeyID {
		return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	// Rebuild the request from what the signature covers; the signer adds
	// the authentication parameters back.
	got := q.Get("X-Amz-Signature")
	signedHeaders := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		q.Del(k)
	}
	u := *r.URL
	u.Scheme, u.Host, u.RawQuery = "http", r.Host, q.Encode()
	req := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for _, h := range signedHeaders {
		if vs := r.Header.Values(h); h != "host" && len(vs) > 0 {
			req.Header[http.CanonicalHeaderKey(h)] = vs
		}
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }) // as for S3
	resigned, _, err := signer.PresignHTTP(r.Context(), Creds, req, "UNSIGNED-PAYLOAD", cred[3], cred[2], signed)
	if err != nil {
		return "InternalError", err.Error()
	}
	want, err := url.Parse(resigned)
	if err != nil || !hmac.Equal([]byte(got), []byte(want.Query().Get("X-Amz-Signature"))) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	return "", ""
}
