package taskfiles

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/junit"
)

// ErrPageToken is returned by TestsPage for a token it did not hand out
// (or one of a batch that no longer exists).
var ErrPageToken = errors.New("taskfiles: page token not handed out by this list")

// TestsPageLimits bound one page of TestsPage.
type TestsPageLimits struct {
	// Items is the most tests a page holds (at least 1).
	Items int
	// Bytes bounds the summed JSON encodings of a page's tests, so that a
	// page fits a response of the api Lambda (6 MB); a page holds at least
	// one test however large.
	Bytes int
}

// TestsPage returns one page of the tests Tests returns, in the same order:
// from where token points ("" for the first page) at most limits.Items
// tests of at most limits.Bytes of JSON, and the token of the next page (""
// after the last). A page reads only the batches it returns tests from,
// plus the listing of the attempt's batches.
//
// The token names a batch and a position in it (opaque to callers: base64
// of "<batch key below the attempt's prefix>:<index>"). Batches are
// immutable once the job has ended, so paging a finished job's results
// sees each test once; a batch a running job replaces (a retried upload)
// holds the same tests.
func (s *Service) TestsPage(ctx context.Context, slug string, jobNumber int64, attempt int, token string, limits TestsPageLimits) ([]junit.Test, string, error) {
	limits.Items = max(limits.Items, 1)
	objs, err := s.testBatches(ctx, slug, jobNumber, attempt)
	if err != nil {
		return nil, "", err
	}
	prefix := testsPrefix(slug, jobNumber, attempt)
	start, skip := 0, 0
	if token != "" {
		rel, idx, err := decodeTestsToken(token)
		if err != nil {
			return nil, "", err
		}
		start = -1
		for i, o := range objs {
			if o.Key == prefix+rel {
				start, skip = i, idx
				break
			}
		}
		if start < 0 {
			return nil, "", fmt.Errorf("%w: batch %s of job %d attempt %d", ErrPageToken, rel, jobNumber, attempt)
		}
	}
	out := []junit.Test{}
	size := 0
	for i := start; i < len(objs); i++ {
		tests, err := s.readBatch(ctx, objs[i].Key)
		if err != nil {
			return nil, "", err
		}
		if skip > len(tests) {
			return nil, "", fmt.Errorf("%w: position %d past the %d tests of batch %s", ErrPageToken, skip, len(tests), objs[i].Key)
		}
		for k := skip; k < len(tests); k++ {
			b, err := json.Marshal(tests[k])
			if err != nil {
				return nil, "", fmt.Errorf("encode test %s of %s: %w", tests[k].Name, objs[i].Key, err)
			}
			if len(out) == limits.Items || (len(out) > 0 && size+len(b) > limits.Bytes) {
				return out, encodeTestsToken(strings.TrimPrefix(objs[i].Key, prefix), k), nil
			}
			out = append(out, tests[k])
			size += len(b) + 1 // and a comma
		}
		skip = 0
	}
	return out, "", nil
}

func encodeTestsToken(rel string, idx int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(rel + ":" + strconv.Itoa(idx)))
}

func decodeTestsToken(token string) (string, int, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", 0, fmt.Errorf("%w: not base64", ErrPageToken)
	}
	i := strings.LastIndexByte(string(b), ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("%w: no position", ErrPageToken)
	}
	idx, err := strconv.Atoi(string(b[i+1:]))
	if err != nil || idx < 0 {
		return "", 0, fmt.Errorf("%w: bad position", ErrPageToken)
	}
	return string(b[:i]), idx, nil
}
