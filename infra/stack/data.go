package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Names of the store's table attributes and indexes, as shared/kv/dynamokv
// reads and writes them (its CreateTable declares the same for tests; the
// assertion tests compare the two).
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"
	attrGSI2PK = "GSI2PK"
	attrGSI2SK = "GSI2SK"
	attrTTL    = "TTL"
	indexGSI1  = "GSI1"
	indexGSI2  = "GSI2"
)

// Run queue settings. sqsqueue needs ReceiveMessageWaitTimeSeconds and
// DelaySeconds left at 0 (it cannot send a zero wait or delay, so the
// queue's own must be zero); the bridge sets each receive's visibility
// itself and extends it while it dispatches, so the queue's default only
// matters for a client that sets none.
const (
	runQueueVisibility = 120 // seconds: the bridge's default Visibility
	runQueueMaxReceive = 100 // as the embedded run queue (cmd/orbit)
	dlqRetentionDays   = 14  // SQS's maximum: time to look at what failed
	noncurrentDays     = 30  // deleted or overwritten blobs stay recoverable this long
)

// data is the installation's state: the KMS key, the table, the bucket, the
// run queue and its dead-letter queue, and the secrets.
type data struct {
	key         awskms.Key
	table       awsdynamodb.Table
	bucket      awss3.Bucket
	runQueue    awssqs.Queue
	deadLetter  awssqs.Queue
	github      awssecretsmanager.ISecret
	ldap        awssecretsmanager.ISecret // nil unless auth is ldap
	signing     awssecretsmanager.Secret
	retainOrNot awscdk.RemovalPolicy
}

func newData(st awscdk.Stack, s Settings) *data {
	d := &data{retainOrNot: awscdk.RemovalPolicy_RETAIN}
	// One customer-managed key encrypts the contexts' data keys (envelope
	// encryption, shared/secrets/kmskeys), the bucket, the queues and the
	// secrets, so one key policy and one CloudTrail trail cover them.
	d.key = awskms.NewKey(st, jsii.String("Key"), &awskms.KeyProps{
		Alias:             jsii.String("alias/" + s.Name),
		Description:       jsii.String("Orbit " + s.Name + ": contexts' data keys, bucket, queues, secrets"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     d.retainOrNot,
	})

	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	d.table = awsdynamodb.NewTable(st, jsii.String("Table"), &awsdynamodb.TableProps{
		TableName:           jsii.String(s.Name),
		PartitionKey:        str(attrPK),
		SortKey:             str(attrSK),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(attrTTL),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:      d.key,
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      d.retainOrNot,
	})
	for _, gsi := range []struct{ name, pk, sk string }{
		{indexGSI1, attrGSI1PK, attrGSI1SK},
		{indexGSI2, attrGSI2PK, attrGSI2SK},
	} {
		d.table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(gsi.name),
			PartitionKey:   str(gsi.pk),
			SortKey:        str(gsi.sk),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}

	logs := awss3.NewBucket(st, jsii.String("AccessLogs"), &awss3.BucketProps{
		// Server access logs cannot go to an SSE-KMS bucket; S3-managed
		// keys are the documented choice for a log target.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("expire-access-logs"),
			Expiration: awscdk.Duration_Days(jsii.Number(float64(s.AuditRetentionDays))),
		}},
		RemovalPolicy: d.retainOrNot,
	})
	d.bucket = awss3.NewBucket(st, jsii.String("Bucket"), &awss3.BucketProps{
		Versioned:              jsii.Bool(true),
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          d.key,
		BucketKeyEnabled:       jsii.Bool(true), // one KMS call per object batch, not per request
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		MinimumTLSVersion:      jsii.Number(1.2),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("bucket/"),
		LifecycleRules:         lifecycleRules(s),
		// Browsers upload artifacts and workspaces by presigned URL.
		Cors: &[]*awss3.CorsRule{{
			AllowedMethods: &[]awss3.HttpMethods{awss3.HttpMethods_GET, awss3.HttpMethods_PUT, awss3.HttpMethods_HEAD},
			AllowedOrigins: jsii.Strings(publicOrigin(s)),
			AllowedHeaders: jsii.Strings("*"),
			MaxAge:         jsii.Number(3600),
		}},
		RemovalPolicy: d.retainOrNot,
	})

	// Both queues: encrypted with the stack's key (a data key reused for an
	// hour keeps KMS calls to a few a day) and TLS-only.
	queue := func(id string, p *awssqs.QueueProps) awssqs.Queue {
		p.Encryption, p.EncryptionMasterKey = awssqs.QueueEncryption_KMS, d.key
		p.DataKeyReuse = awscdk.Duration_Hours(jsii.Number(1))
		p.EnforceSSL = jsii.Bool(true)
		return awssqs.NewQueue(st, jsii.String(id), p)
	}
	d.deadLetter = queue("RunDeadLetterQueue", &awssqs.QueueProps{
		QueueName:       jsii.String(s.Name + "-run-dlq"),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(dlqRetentionDays)),
	})
	d.runQueue = queue("RunQueue", &awssqs.QueueProps{
		QueueName:              jsii.String(s.Name + "-run"),
		VisibilityTimeout:      awscdk.Duration_Seconds(jsii.Number(runQueueVisibility)),
		ReceiveMessageWaitTime: awscdk.Duration_Seconds(jsii.Number(0)),
		DeliveryDelay:          awscdk.Duration_Seconds(jsii.Number(0)),
		RetentionPeriod:        awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           d.deadLetter,
			MaxReceiveCount: jsii.Number(runQueueMaxReceive),
		},
	})

	d.github = secret(st, "GitHubSecret", s.GitHubSecretArn, s.Name+"/github", d.key,
		"GitHub OAuth app and webhook secret: fill client_id and client_secret",
		`{"client_id":"","client_secret":""}`, "webhook_secret")
	if s.Auth == "ldap" {
		d.ldap = secret(st, "LDAPSecret", s.LDAP.PasswordSecretArn, s.Name+"/ldap", d.key,
			"LDAP search user's password: fill password", `{"password":""}`, "")
	}
	// The root of Orbit's signing keys (runner task tokens, blob URLs, task
	// files, sessions): each use derives its own key from it.
	d.signing = awssecretsmanager.NewSecret(st, jsii.String("SigningSecret"), &awssecretsmanager.SecretProps{
		SecretName:    jsii.String(s.Name + "/signing"),
		Description:   jsii.String("Orbit signing root key; each signing use derives its own key"),
		EncryptionKey: d.key,
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
	})
	return d
}

// lifecycleRules keep build data RetentionDays and audit logs
// AuditRetentionDays; overwritten or deleted objects stay recoverable
// noncurrentDays (S3 versioning is the bucket's backup).
func lifecycleRules(s Settings) *[]*awss3.LifecycleRule {
	days := func(n int) awscdk.Duration { return awscdk.Duration_Days(jsii.Number(float64(n))) }
	return &[]*awss3.LifecycleRule{
		{
			Id:         jsii.String("expire-build-data"),
			Prefix:     jsii.String("projects/"),
			Expiration: days(s.RetentionDays),
		},
		{
			Id:         jsii.String("expire-audit-logs"),
			Prefix:     jsii.String("audit-logs/"),
			Expiration: days(s.AuditRetentionDays),
		},
		{
			Id:                                  jsii.String("noncurrent-and-uploads"),
			NoncurrentVersionExpiration:         days(noncurrentDays),
			AbortIncompleteMultipartUploadAfter: days(1),
			ExpiredObjectDeleteMarker:           jsii.Bool(true),
		},
	}
}

// secret imports the secret at arn, or creates one named name holding
// template, with generateKey (if any) generated.
func secret(st awscdk.Stack, id, arn, name string, key awskms.IKey, desc, template, generateKey string) awssecretsmanager.ISecret {
	if arn != "" {
		return awssecretsmanager.Secret_FromSecretCompleteArn(st, jsii.String(id), jsii.String(arn))
	}
	gen := &awssecretsmanager.SecretStringGenerator{
		SecretStringTemplate: jsii.String(template),
		GenerateStringKey:    jsii.String("generated"),
		PasswordLength:       jsii.Number(40),
		ExcludePunctuation:   jsii.Bool(true),
	}
	if generateKey != "" {
		gen.GenerateStringKey = jsii.String(generateKey)
	}
	return awssecretsmanager.NewSecret(st, jsii.String(id), &awssecretsmanager.SecretProps{
		SecretName:           jsii.String(name),
		Description:          jsii.String(desc),
		EncryptionKey:        key,
		GenerateSecretString: gen,
		RemovalPolicy:        awscdk.RemovalPolicy_RETAIN,
	})
}

// publicOrigin is the browser origin that uploads to and downloads from the
// bucket by presigned URL: the domain, or any origin without one (the
// execute-api host is not known before the API exists; presigned URLs are
// the authorization either way).
func publicOrigin(s Settings) string {
	if s.Domain == "" {
		return "*"
	}
	return "https://" + s.Domain
}
