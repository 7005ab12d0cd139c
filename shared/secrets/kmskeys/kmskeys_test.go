package kmskeys_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/kmskeys"
	"github.com/orbit-ci/orbit/shared/secrets/secretstest"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// client returns a KMS client for ORBIT_MOTO_ENDPOINT (moto_server in CI),
// or skips the test.
func client(t *testing.T) *kms.Client {
	t.Helper()
	return kms.NewFromConfig(testenv.AWS(t, "ORBIT_MOTO_ENDPOINT"))
}

// newKey creates a KMS key with rotation enabled and a random alias, and
// schedules its deletion after the test.
func newKey(t *testing.T, c *kms.Client) (arn, alias string) {
	t.Helper()
	alias = "alias/orbit-test-" + strings.ToLower(rand.Text())
	arn, err := kmskeys.CreateKey(t.Context(), c, alias)
	require.NoError(t, err)
	t.Cleanup(func() { deleteKey(t, c, arn) })
	return arn, alias
}

// deleteKey schedules a key's deletion. It passes the bare key id: moto
// 5.2.1's ScheduleKeyDeletion fails with a 500 (KeyError) on a key ARN.
func deleteKey(t *testing.T, c *kms.Client, arn string) {
	id := arn[strings.LastIndex(arn, "/")+1:]
	_, err := c.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	assert.NoError(t, err)
}

// TestConformance runs the suite with the driver on an alias; rotating
// points the alias at a new KMS key, which is how an installation moves to
// a new key id (KMS's own rotation keeps the id: TestRotateKeyOnDemand).
func TestConformance(t *testing.T) {
	c := client(t)
	secretstest.Run(t, func(t *testing.T) (secrets.Keys, secretstest.Rotate) {
		_, alias := newKey(t, c)
		k, err := kmskeys.New(motoClient{c}, kmskeys.Config{KeyID: alias})
		require.NoError(t, err)
		return k, func(ctx context.Context) error {
			out, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				return err
			}
			arn := aws.ToString(out.KeyMetadata.Arn)
			t.Cleanup(func() { deleteKey(t, c, arn) })
			_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)})
			return err
		}
	})
}

// motoClient works around one moto 5.2.1 quirk. Its Decrypt answers
// AccessDeniedException, with no message, when the ciphertext blob's key id
// (moto's blobs start with it) names no key or another key than KeyId,
// where KMS answers IncorrectKeyException (the blob is not of the KeyId
// given) or InvalidCiphertextException (a corrupted blob), per the Decrypt
// API reference. The driver rightly leaves AccessDeniedException alone (a
// missing IAM permission is not a changed value), so the harness translates
// it; moto enforces no IAM, so it has no other AccessDeniedException here.
type motoClient struct{ *kms.Client }

func (m motoClient) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	out, err := m.Client.Decrypt(ctx, in, opts...)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException" {
		return nil, &types.IncorrectKeyException{Message: aws.String("moto AccessDeniedException")}
	}
	return out, err
}

func TestCreateKey(t *testing.T) {
	c := client(t)
	arn, alias := newKey(t, c)
	ctx := t.Context()

	desc, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	require.NoError(t, err)
	assert.Equal(t, arn, aws.ToString(desc.KeyMetadata.Arn))
	assert.Equal(t, types.KeySpecSymmetricDefault, desc.KeyMetadata.KeySpec)
	assert.Equal(t, types.KeyUsageTypeEncryptDecrypt, desc.KeyMetadata.KeyUsage)
	rot, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(arn)})
	require.NoError(t, err)
	assert.True(t, rot.KeyRotationEnabled)
}

// TestRotateKeyOnDemand rotates the key material with KMS's own rotation:
// values sealed before still open, and the key ARN in envelopes stays.
//
// moto 5.2.1 implements RotateKeyOnDemand and ListKeyRotations by recording
// the rotation only; it keeps the key material, so against moto this checks
// the calls and the unchanged key id, not that KMS keeps old material (which
// AWS documents: "KMS retains all key material for the key").
func TestRotateKeyOnDemand(t *testing.T) {
	c := client(t)
	arn, _ := newKey(t, c)
	ctx := t.Context()
	k, err := kmskeys.New(c, kmskeys.Config{KeyID: arn})
	require.NoError(t, err)
	aad := map[string]string{"orbit:scope": "project/local/acme/api", "orbit:name": "TOKEN"}

	old, err := secrets.Seal(ctx, k, []byte("before"), aad)
	require.NoError(t, err)
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(arn)})
	require.NoError(t, err)
	rotations, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(arn)})
	require.NoError(t, err)
	require.Len(t, rotations.Rotations, 1)
	assert.Equal(t, types.RotationTypeOnDemand, rotations.Rotations[0].RotationType)

	fresh, err := secrets.Seal(ctx, k, []byte("after"), aad)
	require.NoError(t, err)
	for want, sealed := range map[string][]byte{"before": old, "after": fresh} {
		id, err := secrets.KeyID(sealed)
		require.NoError(t, err)
		assert.Equal(t, arn, id)
		got, err := secrets.Open(ctx, k, sealed, aad)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
}

// TestOldKeyAfterSwitch seals under one key, then opens with a driver
// configured for another: the envelope names its key, so a new
// configuration does not strand old values.
func TestOldKeyAfterSwitch(t *testing.T) {
	c := client(t)
	first, _ := newKey(t, c)
	second, _ := newKey(t, c)
	ctx := t.Context()
	aad := map[string]string{"orbit:scope": "context/acme/deploy", "orbit:name": "AWS_SECRET"}

	a, err := kmskeys.New(c, kmskeys.Config{KeyID: first})
	require.NoError(t, err)
	sealed, err := secrets.Seal(ctx, a, []byte("value"), aad)
	require.NoError(t, err)

	b, err := kmskeys.New(c, kmskeys.Config{KeyID: second})
	require.NoError(t, err)
	got, err := secrets.Open(ctx, b, sealed, aad)
	require.NoError(t, err)
	assert.Equal(t, "value", string(got))
	fresh, err := secrets.Seal(ctx, b, []byte("value"), aad)
	require.NoError(t, err)
	id, err := secrets.KeyID(fresh)
	require.NoError(t, err)
	assert.Equal(t, second, id)
}

// failing answers every call with err.
type failing struct{ err error }

func (f failing) GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	return nil, f.err
}

func (f failing) Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return nil, f.err
}

func TestMapsErrors(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		decrypt bool
	}{
		{"invalid ciphertext", &types.InvalidCiphertextException{}, true},
		{"incorrect key", &types.IncorrectKeyException{}, true},
		{"not found", &types.NotFoundException{}, true},
		{"disabled", &types.DisabledException{}, false},
		{"internal", &types.KMSInternalException{}, false},
		{"network", errors.New("connection refused"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := kmskeys.New(failing{tc.err}, kmskeys.Config{KeyID: "alias/x"})
			require.NoError(t, err)
			_, err = k.DecryptDataKey(t.Context(), "arn:aws:kms:us-east-1:123456789012:key/x", []byte{1}, nil)
			assert.ErrorIs(t, err, tc.err, "the KMS error stays visible")
			assert.Equal(t, tc.decrypt, errors.Is(err, secrets.ErrDecrypt))
			_, err = k.GenerateDataKey(t.Context(), nil)
			assert.ErrorIs(t, err, tc.err)
			assert.NotErrorIs(t, err, secrets.ErrDecrypt)
		})
	}
}

func TestNewChecksConfig(t *testing.T) {
	_, err := kmskeys.New(nil, kmskeys.Config{KeyID: "alias/x"})
	assert.Error(t, err)
	_, err = kmskeys.New(failing{}, kmskeys.Config{})
	assert.Error(t, err)
}
