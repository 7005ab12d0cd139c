// Package kmskeys is the AWS driver of the secrets port: data keys from AWS
// KMS (GenerateDataKey, AES_256) under one symmetric KMS key, bound to the
// encryption context, and unwrapped by Decrypt with the same context and the
// key's ARN.
//
// The driver is configured with a key id, key ARN, alias name or alias ARN;
// the envelope records the key ARN that KMS reports, so values stay
// openable when the alias is later pointed at another key (as long as the
// old key is not deleted), and Decrypt is always asked for that exact key.
//
// Rotation is KMS's own: CreateKey enables automatic yearly rotation, and
// RotateKeyOnDemand rotates at once. KMS keeps every earlier key material
// of a key, so values sealed before a rotation open unchanged and the key
// ARN in new envelopes stays the same. Moving to a new KMS key (updating the
// alias) is the way to a new key id.
//
// Errors: InvalidCiphertextException, IncorrectKeyException and
// NotFoundException from Decrypt (changed data, other context, unknown key)
// wrap secrets.ErrDecrypt as well as the KMS error; all others (throttling,
// access denied, a disabled key) wrap only the KMS error, so a missing IAM
// permission is not mistaken for a changed value. One consequence: an
// envelope whose key ARN was changed to name another account's key fails
// with KMS's AccessDeniedException, not ErrDecrypt. It never opens.
package kmskeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/orbit-ci/orbit/shared/secrets"
)

// Client is the part of *kms.Client the driver uses.
type Client interface {
	GenerateDataKey(ctx context.Context, params *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, params *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ Client = (*kms.Client)(nil)

// Config configures the KMS driver.
type Config struct {
	// KeyID is the KMS key that wraps new data keys: a key id, key ARN,
	// alias name ("alias/orbit-secrets") or alias ARN. Required.
	KeyID string
}

// Keys is the KMS driver. It is safe for concurrent use.
type Keys struct {
	client Client
	keyID  string
}

var _ secrets.Keys = (*Keys)(nil)

// New returns the driver over client (kms.NewFromConfig(awsConfig)).
func New(client Client, cfg Config) (*Keys, error) {
	if client == nil {
		return nil, errors.New("kmskeys: nil client")
	}
	if cfg.KeyID == "" {
		return nil, errors.New("kmskeys: Config.KeyID is empty")
	}
	return &Keys{client: client, keyID: cfg.KeyID}, nil
}

// GenerateDataKey asks KMS for an AES-256 data key under the configured key,
// with aad as its encryption context. The returned KeyID is the key's ARN.
func (k *Keys) GenerateDataKey(ctx context.Context, aad map[string]string) (secrets.DataKey, error) {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(k.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext(aad),
	})
	if err != nil {
		return secrets.DataKey{}, fmt.Errorf("kms generate data key under %s: %w", k.keyID, err)
	}
	return secrets.DataKey{KeyID: aws.ToString(out.KeyId), Plaintext: out.Plaintext, Wrapped: out.CiphertextBlob}, nil
}

// DecryptDataKey asks KMS to decrypt wrapped with KMS key keyID and aad as
// the encryption context.
func (k *Keys) DecryptDataKey(ctx context.Context, keyID string, wrapped []byte, aad map[string]string) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(keyID),
		CiphertextBlob:    wrapped,
		EncryptionContext: encryptionContext(aad),
	})
	if err != nil {
		var (
			invalid   *types.InvalidCiphertextException
			incorrect *types.IncorrectKeyException
			notFound  *types.NotFoundException
		)
		if errors.As(err, &invalid) || errors.As(err, &incorrect) || errors.As(err, &notFound) {
			return nil, fmt.Errorf("%w: kms decrypt: %w", secrets.ErrDecrypt, err)
		}
		return nil, fmt.Errorf("kms decrypt: %w", err)
	}
	return out.Plaintext, nil
}

// encryptionContext returns aad as a KMS encryption context; KMS takes an
// empty one as none.
func encryptionContext(aad map[string]string) map[string]string {
	if len(aad) == 0 {
		return nil
	}
	return aad
}

// KeyAdmin is the part of *kms.Client that CreateKey uses.
type KeyAdmin interface {
	CreateKey(ctx context.Context, params *kms.CreateKeyInput, optFns ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	EnableKeyRotation(ctx context.Context, params *kms.EnableKeyRotationInput, optFns ...func(*kms.Options)) (*kms.EnableKeyRotationOutput, error)
	CreateAlias(ctx context.Context, params *kms.CreateAliasInput, optFns ...func(*kms.Options)) (*kms.CreateAliasOutput, error)
}

var _ KeyAdmin = (*kms.Client)(nil)

// CreateKey creates the KMS key a Keys expects: symmetric, for encryption,
// with automatic rotation enabled, and named alias unless alias is "" (an
// alias starts with "alias/"). It returns the key's ARN. A failure after
// CreateKey leaves the key behind; it costs until scheduled for deletion.
func CreateKey(ctx context.Context, client KeyAdmin, alias string) (string, error) {
	out, err := client.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("Orbit secrets: wraps the data keys of project and context secrets"),
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
	})
	if err != nil {
		return "", fmt.Errorf("kms create key: %w", err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	if _, err := client.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(arn)}); err != nil {
		return "", fmt.Errorf("kms enable rotation of %s: %w", arn, err)
	}
	if alias != "" {
		if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)}); err != nil {
			return "", fmt.Errorf("kms create alias %s for %s: %w", alias, arn, err)
		}
	}
	return arn, nil
}
