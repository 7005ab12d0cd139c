// Package s3blob is the AWS driver of the blob port: one S3 bucket, spoken to
// with aws-sdk-go-v2, presigned URLs signed with SigV4 query signing.
//
// Besides the port, Store presigns uploads (PresignPut), so that build
// agents PUT caches, workspace layers and artifacts straight to S3 rather
// than through the runner API, whose Lambda would cap a body at 6 MB.
//
// Put sends one PutObject, so an object is at most 5 GiB (S3's single-put
// limit). SigV4 over plain HTTP needs the body's length and hash up front: a
// reader that is also an io.Seeker is sent as is, any other is first spooled
// to memory (up to 8 MiB) or to a temporary file.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/internal/blobrules"
)

var _ blob.Store = (*Store)(nil)

// spoolInMemory is the largest unseekable body Put buffers in memory.
const spoolInMemory = 8 << 20

// API is the part of *s3.Client the driver uses; the methods are copied from
// the SDK so that *s3.Client satisfies it as is.
type API interface {
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, params *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(ctx context.Context, params *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ API = (*s3.Client)(nil)

// Presigner signs GET and PUT URLs; *s3.PresignClient (s3.NewPresignClient)
// satisfies it.
type Presigner interface {
	PresignGetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
	PresignPutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

var _ Presigner = (*s3.PresignClient)(nil)

// Store is one S3 bucket. It is safe for concurrent use.
type Store struct {
	client    API
	presigner Presigner
	bucket    string
}

// New returns the driver for bucket.
func New(client API, presigner Presigner, bucket string) (*Store, error) {
	switch {
	case client == nil:
		return nil, errors.New("s3blob: nil client")
	case presigner == nil:
		return nil, errors.New("s3blob: nil presigner")
	case bucket == "":
		return nil, errors.New("s3blob: empty bucket name")
	}
	return &Store{client: client, presigner: presigner, bucket: bucket}, nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) error {
	if err := blobrules.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	ct, err := blobrules.ContentType(opts.ContentType)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	body, size, cleanup, err := sized(r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer cleanup()
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(ct),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// sized returns r as a seekable body positioned where r was, with the number
// of bytes left, spooling r when it cannot seek.
func sized(r io.Reader) (io.ReadSeeker, int64, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		cur, err := rs.Seek(0, io.SeekCurrent)
		if err == nil {
			end, err := rs.Seek(0, io.SeekEnd)
			if err != nil {
				return nil, 0, nil, fmt.Errorf("measure body: %w", err)
			}
			if _, err := rs.Seek(cur, io.SeekStart); err != nil {
				return nil, 0, nil, fmt.Errorf("measure body: %w", err)
			}
			return rs, end - cur, func() {}, nil
		}
		// A pipe or socket behind an *os.File cannot seek: spool it.
	}
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, spoolInMemory+1)
	if errors.Is(err, io.EOF) {
		return bytes.NewReader(buf.Bytes()), n, func() {}, nil
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read body: %w", err)
	}
	f, err := os.CreateTemp("", "s3blob-put-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spool body: %w", err)
	}
	cleanup := func() {
		_ = f.Close()           // read-only use; nothing to flush
		_ = os.Remove(f.Name()) // best effort: it is in the temp directory
	}
	size, err := io.Copy(f, io.MultiReader(&buf, r))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("spool body: %w", err)
	}
	return f, size, cleanup, nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string, rng *blob.Range) (io.ReadCloser, blob.Info, error) {
	if err := blobrules.CheckKey(key); err != nil {
		return nil, blob.Info{}, fmt.Errorf("get: %w", err)
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if rng != nil {
		switch {
		case rng.Offset < 0:
			return nil, blob.Info{}, fmt.Errorf("get %s: negative offset %d: %w", key, rng.Offset, blob.ErrInvalidRange)
		case rng.Length == 0:
			// "bytes=n-(n-1)" is no valid range, and S3 answers an invalid
			// Range with the whole object: check the offset with a HEAD.
			info, err := s.Head(ctx, key)
			if err != nil {
				return nil, blob.Info{}, fmt.Errorf("get %s: %w", key, err)
			}
			if rng.Offset >= info.Size {
				return nil, blob.Info{}, fmt.Errorf("get %s: bytes from %d of %d: %w", key, rng.Offset, info.Size, blob.ErrInvalidRange)
			}
			return io.NopCloser(strings.NewReader("")), info, nil
		case rng.Length < 0:
			in.Range = aws.String(fmt.Sprintf("bytes=%d-", rng.Offset))
		default:
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", rng.Offset, rng.Offset+rng.Length-1))
		}
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, blob.Info{}, fmt.Errorf("get %s: %w", key, mapError(err))
	}
	size := aws.ToInt64(out.ContentLength)
	if rng != nil {
		total, err := totalSize(aws.ToString(out.ContentRange))
		if err != nil {
			_ = out.Body.Close() // already failing
			return nil, blob.Info{}, fmt.Errorf("get %s: %w", key, err)
		}
		size = total
	}
	return out.Body, blob.Info{
		Key:          key,
		Size:         size,
		ContentType:  aws.ToString(out.ContentType),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}

// totalSize reads the object size from a Content-Range "bytes a-b/size".
func totalSize(contentRange string) (int64, error) {
	_, total, ok := strings.Cut(contentRange, "/")
	if !ok {
		return 0, fmt.Errorf("Content-Range %q has no size", contentRange)
	}
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("Content-Range %q: %w", contentRange, err)
	}
	return n, nil
}

// Head implements blob.Store.
func (s *Store) Head(ctx context.Context, key string) (blob.Info, error) {
	if err := blobrules.CheckKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("head: %w", err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return blob.Info{}, fmt.Errorf("head %s: %w", key, mapError(err))
	}
	return blob.Info{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ContentType:  aws.ToString(out.ContentType),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) (blob.ListPage, error) {
	limit = blobrules.Limit(limit)
	// Ask for one key more than wanted where S3 allows it: the extra key
	// proves that more remain. IsTruncated alone is not trusted for a full
	// page, since some S3 look-alikes (gofakes3) set it when any key follows,
	// even past the prefix.
	ask := min(limit+1, blobrules.MaxList)
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		MaxKeys: aws.Int32(int32(ask)),
	}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return blob.ListPage{}, fmt.Errorf("list %s: %w", prefix, mapError(err))
	}
	contents := out.Contents
	truncated := aws.ToBool(out.IsTruncated)
	if ask > limit && len(contents) >= limit {
		truncated = len(contents) > limit
		contents = contents[:limit]
	}
	page := blob.ListPage{Objects: make([]blob.Info, 0, len(contents)), Truncated: truncated}
	for _, o := range contents {
		page.Objects = append(page.Objects, blob.Info{
			Key:          aws.ToString(o.Key),
			Size:         aws.ToInt64(o.Size),
			LastModified: aws.ToTime(o.LastModified),
		})
	}
	return page, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blobrules.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err = mapError(err); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// PresignGet implements blob.Store with SigV4 query signing.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return s.PresignGetWith(ctx, key, ttl, blob.ResponseHeaders{})
}

// PresignGetWith implements blob.Store: the overrides are GetObject's
// ResponseContentType and ResponseContentDisposition, query parameters
// (response-content-type, response-content-disposition) that SigV4 signs
// with the rest of the query; S3 answers with them instead of the stored
// headers.
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
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if h.ContentType != "" {
		in.ResponseContentType = aws.String(h.ContentType)
	}
	if h.ContentDisposition != "" {
		in.ResponseContentDisposition = aws.String(h.ContentDisposition)
	}
	req, err := s.presigner.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}

// PresignPut returns a URL that takes PUTs of key's whole content until it
// expires, ttl from now (1 s to 7 days, as PresignGet), with SigV4 query
// signing. The URL carries its own authorization: whoever holds it can
// write key, and nothing else. It is not part of the blob port; the
// taskfiles service hands it to build agents (taskfiles.PutPresigner).
//
// contentType is signed and stored with the object: the uploader must send
// exactly this Content-Type header, or S3 refuses the PUT
// (SignatureDoesNotMatch). It is required, since an uploader that sends no
// Content-Type could not match a default. The payload is unsigned
// (UNSIGNED-PAYLOAD) and its length is not signed, so the uploader needs
// no hash or size up front; S3's single-PUT limit of 5 GiB applies.
//
// Like PresignGet it contacts nothing: it does not check the bucket or the
// key.
func (s *Store) PresignPut(ctx context.Context, key string, ttl time.Duration, contentType string) (string, error) {
	if err := blobrules.CheckKey(key); err != nil {
		return "", fmt.Errorf("presign put: %w", err)
	}
	if err := blobrules.CheckTTL(ttl); err != nil {
		return "", fmt.Errorf("presign put %s: %w", key, err)
	}
	if contentType == "" {
		return "", fmt.Errorf("presign put %s: empty content type: the uploader must send the signed Content-Type", key)
	}
	ct, err := blobrules.ContentType(contentType)
	if err != nil {
		return "", fmt.Errorf("presign put %s: %w", key, err)
	}
	// The SDK signs the Content-Type header only if it stays on the request;
	// older releases dropped it when ContentLength was unset
	// (aws/aws-sdk-go-v2#2063). TestPresignPutUploads pins the signed headers.
	req, err := s.presigner.PresignPutObject(ctx,
		&s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), ContentType: aws.String(ct)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign put %s: %w", key, err)
	}
	return req.URL, nil
}

// mapError turns S3's missing-object and bad-range answers into the port's
// errors, keeping the SDK error in the chain.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var noSuchKey *types.NoSuchKey
	var notFound *types.NotFound
	if errors.As(err, &noSuchKey) || errors.As(err, &notFound) {
		return errors.Join(blob.ErrNotFound, err)
	}
	// InvalidRange has no modelled type; HEAD answers carry no body, so a
	// missing object there is only a "NotFound" code.
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "InvalidRange":
			return errors.Join(blob.ErrInvalidRange, err)
		case "NoSuchKey", "NotFound":
			return errors.Join(blob.ErrNotFound, err)
		}
	}
	return err
}
