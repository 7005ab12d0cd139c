// Package secretstest is the conformance suite of the secrets port: every
// key service driver runs Run, which seals and opens through secrets.Seal
// and secrets.Open with a fresh key service per test, so the key file
// cannot drift from KMS. Subtests run in parallel.
package secretstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/secrets"
)

// Rotate moves a key service to a new master key with a new key id: new
// data keys are wrapped by it, and data keys wrapped before still unwrap.
// It may be called concurrently with the key service's methods.
type Rotate func(ctx context.Context) error

// NewKeys makes a fresh key service for one test, and its Rotate, and
// arranges their cleanup with t.Cleanup. It fails t when it cannot.
type NewKeys func(t *testing.T) (secrets.Keys, Rotate)

// Run runs the conformance suite against the driver that newKeys makes.
func Run(t *testing.T, newKeys NewKeys) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, k secrets.Keys, rotate Rotate)
	}{
		{"RoundTrip", testRoundTrip},
		{"SealsDiffer", testSealsDiffer},
		{"WrongContext", testWrongContext},
		{"DataKeys", testDataKeys},
		{"BitFlips", testBitFlips},
		{"Truncated", testTruncated},
		{"Spliced", testSpliced},
		{"Garbage", testGarbage},
		{"Rotate", testRotate},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, rotate := newKeys(t)
			tc.run(t, k, rotate)
		})
	}
}

// secret is a recognisable plaintext that no error may contain.
const secret = "s3cr3t-Value-that-must-not-leak"

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func varAAD(scope, name string) map[string]string {
	return map[string]string{"orbit:scope": scope, "orbit:name": name}
}

func seal(ctx context.Context, t *testing.T, k secrets.Keys, plain []byte, aad map[string]string) []byte {
	t.Helper()
	sealed, err := secrets.Seal(ctx, k, plain, aad)
	require.NoError(t, err, "seal")
	return sealed
}

// assertDecrypt checks that opening sealed with aad fails with ErrDecrypt,
// says nothing of the plaintext, and does not panic.
func assertDecrypt(ctx context.Context, t *testing.T, k secrets.Keys, sealed []byte, aad map[string]string, msgAndArgs ...any) {
	t.Helper()
	var (
		plain []byte
		err   error
	)
	require.NotPanics(t, func() { plain, err = secrets.Open(ctx, k, sealed, aad) }, msgAndArgs...)
	if assert.ErrorIs(t, err, secrets.ErrDecrypt, msgAndArgs...) {
		assert.NotContains(t, err.Error(), secret, msgAndArgs...)
	}
	assert.Nil(t, plain, msgAndArgs...)
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func testRoundTrip(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	tests := []struct {
		name  string
		plain []byte
		aad   map[string]string
	}{
		{"empty", []byte{}, varAAD("project/local/acme/api", "EMPTY")},
		{"nil", nil, varAAD("project/local/acme/api", "NIL")},
		{"one byte", []byte{0}, varAAD("project/local/acme/api", "ONE")},
		{"text", []byte(secret), varAAD("project/local/acme/api", "TOKEN")},
		{"64 KiB", random(t, 64<<10), varAAD("context/acme/deploy", "BIG")},
		{"no context", []byte(secret), nil},
		{"unicode context", []byte("ünïcødé ✓"), map[string]string{"orbit:scope": "project/ßlug/ä", "orbit:name": "✓"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed := seal(ctx, t, k, tc.plain, tc.aad)
			if len(tc.plain) >= 4 {
				assert.False(t, bytes.Contains(sealed, tc.plain), "the envelope contains the plaintext")
			}
			got, err := secrets.Open(ctx, k, sealed, tc.aad)
			require.NoError(t, err)
			assert.NotNil(t, got)
			assert.True(t, bytes.Equal(tc.plain, got), "round trip changed the value")
		})
	}
}

func testSealsDiffer(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	a := seal(ctx, t, k, []byte(secret), aad)
	b := seal(ctx, t, k, []byte(secret), aad)
	assert.NotEqual(t, a, b)
	// Same key id, so the difference is the data key, nonce and ciphertext.
	idA, err := secrets.KeyID(a)
	require.NoError(t, err)
	idB, err := secrets.KeyID(b)
	require.NoError(t, err)
	assert.Equal(t, idA, idB)
}

func testWrongContext(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	tests := []struct {
		name string
		seal map[string]string
		open map[string]string
	}{
		{"other name", aad, varAAD("project/local/acme/api", "OTHER")},
		{"other scope", aad, varAAD("project/local/acme/web", "TOKEN")},
		{"extra entry", aad, map[string]string{"orbit:scope": "project/local/acme/api", "orbit:name": "TOKEN", "x": "y"}},
		{"missing entry", aad, map[string]string{"orbit:scope": "project/local/acme/api"}},
		{"none", aad, nil},
		{"none at seal", nil, aad},
		{"boundary moved", map[string]string{"ab": "c"}, map[string]string{"a": "bc"}},
		{"key and value swapped", map[string]string{"a": "b"}, map[string]string{"b": "a"}},
		{"case", aad, varAAD("project/local/acme/api", "token")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed := seal(ctx, t, k, []byte(secret), tc.seal)
			assertDecrypt(ctx, t, k, sealed, tc.open)
			_, err := secrets.Open(ctx, k, sealed, tc.seal)
			assert.NoError(t, err, "the right context still opens")
		})
	}
}

// testDataKeys checks the driver's own contract, below Seal and Open.
func testDataKeys(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	dk, err := k.GenerateDataKey(ctx, aad)
	require.NoError(t, err)
	require.Len(t, dk.Plaintext, secrets.DataKeySize)
	require.NotEmpty(t, dk.KeyID)
	require.NotEmpty(t, dk.Wrapped)
	assert.False(t, bytes.Contains(dk.Wrapped, dk.Plaintext), "the wrapped key contains the data key")

	got, err := k.DecryptDataKey(ctx, dk.KeyID, dk.Wrapped, aad)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(dk.Plaintext, got), "unwrapped data key differs")

	_, err = k.DecryptDataKey(ctx, dk.KeyID, dk.Wrapped, varAAD("project/local/acme/api", "OTHER"))
	assert.ErrorIs(t, err, secrets.ErrDecrypt, "other context")

	// An id of the same form naming no key.
	last := byte('0')
	if dk.KeyID[len(dk.KeyID)-1] == '0' {
		last = '1'
	}
	unknown := dk.KeyID[:len(dk.KeyID)-1] + string(last)
	_, err = k.DecryptDataKey(ctx, unknown, dk.Wrapped, aad)
	assert.ErrorIs(t, err, secrets.ErrDecrypt, "unknown key %s", unknown)

	other, err := k.GenerateDataKey(ctx, aad)
	require.NoError(t, err)
	assert.False(t, bytes.Equal(dk.Plaintext, other.Plaintext), "two data keys are equal")
}

// testBitFlips flips every bit of an envelope, one at a time.
func testBitFlips(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	sealed := seal(ctx, t, k, []byte(secret), aad)
	for i := range len(sealed) * 8 {
		changed := bytes.Clone(sealed)
		changed[i/8] ^= 1 << (i % 8)
		assertDecrypt(ctx, t, k, changed, aad, "bit %d of %d flipped", i, len(sealed)*8)
	}
}

func testTruncated(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	sealed := seal(ctx, t, k, []byte(secret), aad)
	for n := range len(sealed) {
		assertDecrypt(ctx, t, k, sealed[:n], aad, "truncated to %d of %d bytes", n, len(sealed))
	}
	assertDecrypt(ctx, t, k, append(bytes.Clone(sealed), 0), aad, "one byte appended")
	assertDecrypt(ctx, t, k, append(bytes.Clone(sealed), sealed...), aad, "doubled")
}

// testSpliced joins the parts of two envelopes sealed with the same context.
func testSpliced(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	a := seal(ctx, t, k, []byte(secret), aad)
	b := seal(ctx, t, k, []byte(strings.ToUpper(secret)), aad)
	require.Len(t, b, len(a), "same-length values seal to same-length envelopes under one key")
	tail := 12 + len(secret) + 16 // nonce, ciphertext and tag
	head := len(a) - tail

	assertDecrypt(ctx, t, k, append(bytes.Clone(a[:head]), b[head:]...), aad, "a's data key, b's ciphertext")
	assertDecrypt(ctx, t, k, append(bytes.Clone(a[:head+12]), b[head+12:]...), aad, "a's nonce, b's ciphertext")
	assertDecrypt(ctx, t, k, append(bytes.Clone(a[:len(a)-16]), b[len(b)-16:]...), aad, "b's tag")
}

func testGarbage(t *testing.T, k secrets.Keys, _ Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	sealed := seal(ctx, t, k, []byte(secret), aad)
	v2 := bytes.Clone(sealed)
	v2[3] = 2
	inputs := map[string][]byte{
		"nil":          nil,
		"empty":        {},
		"plaintext":    []byte(secret),
		"magic only":   sealed[:4],
		"version 2":    v2,
		"zero lengths": append(bytes.Clone(sealed[:4]), make([]byte, 64)...),
		"max lengths":  append(bytes.Clone(sealed[:4]), bytes.Repeat([]byte{0xff}, 64)...),
	}
	for i := range 200 {
		b := random(t, i)
		if i%2 == 1 && i >= 4 {
			copy(b, sealed[:4]) // past the magic, into the parser
		}
		inputs[fmt.Sprintf("random %d", i)] = b
	}
	for name, b := range inputs {
		assertDecrypt(ctx, t, k, b, aad, name)
	}
}

func testRotate(t *testing.T, k secrets.Keys, rotate Rotate) {
	ctx := testContext(t)
	aad := varAAD("project/local/acme/api", "TOKEN")
	old := seal(ctx, t, k, []byte("before"), aad)
	oldID, err := secrets.KeyID(old)
	require.NoError(t, err)

	require.NoError(t, rotate(ctx))
	fresh := seal(ctx, t, k, []byte("after"), aad)
	newID, err := secrets.KeyID(fresh)
	require.NoError(t, err)
	assert.NotEqual(t, oldID, newID, "a seal after rotation uses the new master key")

	require.NoError(t, rotate(ctx))
	newest := seal(ctx, t, k, []byte("twice"), aad)
	newestID, err := secrets.KeyID(newest)
	require.NoError(t, err)
	assert.NotContains(t, []string{oldID, newID}, newestID)

	for want, sealed := range map[string][]byte{"before": old, "after": fresh, "twice": newest} {
		got, err := secrets.Open(ctx, k, sealed, aad)
		if assert.NoError(t, err, want) {
			assert.Equal(t, want, string(got))
		}
	}
	assertDecrypt(ctx, t, k, old, varAAD("project/local/acme/api", "OTHER"), "old value, other context")
}

// testConcurrent seals and opens from many goroutines while the key service
// rotates; run it with -race.
func testConcurrent(t *testing.T, k secrets.Keys, rotate Rotate) {
	ctx := testContext(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each+1)
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range each {
				aad := varAAD(fmt.Sprintf("project/local/acme/p%d", w), fmt.Sprintf("V%d", i))
				want := fmt.Sprintf("value %d/%d", w, i)
				sealed, err := secrets.Seal(ctx, k, []byte(want), aad)
				if err != nil {
					errs <- fmt.Errorf("seal %d/%d: %w", w, i, err)
					continue
				}
				got, err := secrets.Open(ctx, k, sealed, aad)
				switch {
				case err != nil:
					errs <- fmt.Errorf("open %d/%d: %w", w, i, err)
				case string(got) != want:
					errs <- fmt.Errorf("open %d/%d: got another value", w, i)
				}
			}
		})
	}
	wg.Go(func() {
		<-start
		if err := rotate(ctx); err != nil {
			errs <- fmt.Errorf("rotate: %w", err)
		}
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
