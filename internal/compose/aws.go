package compose

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	nomad "github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/blob/s3blob"
	"github.com/orbit-ci/orbit/shared/cacerts"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/shared/metrics/cwmetrics"
	"github.com/orbit-ci/orbit/shared/queue/sqsqueue"
	"github.com/orbit-ci/orbit/shared/secrets/kmskeys"
)

// loadAWS loads the SDK configuration once per process: region from the
// Config, credentials from the SDK's default chain (the function's or
// instance's role in AWS, the environment in tests), every API at
// Endpoint when one is set.
func loadAWS(ctx context.Context, c AWSConfig) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.Region))
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if c.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.Endpoint)
	}
	return cfg, nil
}

func (a *Assembly) dynamoKV() (*dynamokv.Store, error) {
	if err := missing("the DynamoDB store", "ORBIT_TABLE", a.cfg.AWS.Table); err != nil {
		return nil, err
	}
	return dynamokv.New(dynamodb.NewFromConfig(*a.awsCfg), dynamokv.Config{Table: a.cfg.AWS.Table})
}

func (a *Assembly) s3Blobs() (*s3blob.Store, error) {
	if err := missing("the S3 blob store", "ORBIT_BUCKET", a.cfg.AWS.Bucket); err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(*a.awsCfg, func(o *s3.Options) {
		// Emulators serve buckets by path, not by host name.
		o.UsePathStyle = a.cfg.AWS.Endpoint != ""
	})
	return s3blob.New(client, s3.NewPresignClient(client), a.cfg.AWS.Bucket)
}

func (a *Assembly) sqsQueue() (*sqsqueue.Queue, error) {
	if err := missing("the SQS run queue", "ORBIT_RUN_QUEUE_URL", a.cfg.AWS.RunQueueURL); err != nil {
		return nil, err
	}
	return sqsqueue.New(sqs.NewFromConfig(*a.awsCfg), a.cfg.AWS.RunQueueURL, sqsqueue.Config{})
}

func (a *Assembly) kmsKeys() (*kmskeys.Keys, error) {
	if err := missing("the KMS secrets", "ORBIT_KMS_KEY_ID", a.cfg.AWS.KMSKeyID); err != nil {
		return nil, err
	}
	return kmskeys.New(kms.NewFromConfig(*a.awsCfg), kmskeys.Config{KeyID: a.cfg.AWS.KMSKeyID})
}

func (a *Assembly) cloudWatch() (*cwmetrics.Sink, error) {
	return newCloudWatch(*a.awsCfg, a.cfg.AWS.CloudWatchQuery, a.cfg.AWS.MetricsNamespace, a.log)
}

// newCloudWatch is the CloudWatch sink of namespace (awsQuery: for moto).
func newCloudWatch(cfg aws.Config, awsQuery bool, namespace string, log *slog.Logger) (*cwmetrics.Sink, error) {
	client := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		if awsQuery {
			o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
		}
	})
	return cwmetrics.New(client, cwmetrics.Config{Namespace: namespace, Logger: log.With("component", "cwmetrics")})
}

// runCloudWatch flushes s until ctx ends, then once more: what the last
// minute recorded is sent before the process ends.
func runCloudWatch(s *cwmetrics.Sink) func(context.Context) error {
	return func(ctx context.Context) error {
		_ = s.Run(ctx)
		final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return s.Close(final)
	}
}

// nomadClient connects to the Nomad agent at addr, trusting the extra CA
// certificates of caDir.
func nomadClient(addr, caDir string) (nomadbridge.Nomad, error) {
	client, err := nomadAPIClient(addr, caDir)
	if err != nil {
		return nomadbridge.Nomad{}, err
	}
	return nomadbridge.NomadFromClient(client), nil
}

// nomadAPIClient is a Nomad API client for addr trusting caDir's CAs too.
func nomadAPIClient(addr, caDir string) (*nomad.Client, error) {
	tr, err := cacerts.Transport(caDir)
	if err != nil {
		return nil, err
	}
	client, err := nomad.NewClient(&nomad.Config{Address: addr, HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		return nil, fmt.Errorf("nomad client for %s: %w", addr, err)
	}
	return client, nil
}

// signingSecret reads the installation secret from Secrets Manager: once
// per process, at start, so a Lambda pays for it on its cold start only.
func signingSecret(ctx context.Context, cfg aws.Config, arn string) ([]byte, error) {
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("ORBIT_SIGNING_SECRET_ARN=%s: read the signing secret: %w", arn, err)
	}
	s := aws.ToString(out.SecretString)
	if len(s) < MinSecretBytes {
		return nil, fmt.Errorf("ORBIT_SIGNING_SECRET_ARN=%s: the secret holds %d bytes; want at least %d", arn, len(s), MinSecretBytes)
	}
	return []byte(s), nil
}
