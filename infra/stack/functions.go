package stack

import (
	"path/filepath"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/jsii-runtime-go"
)

// Lambda function names (functions/<name>, bin/lambdas/<name>.zip).
const (
	FunctionAPI       = "api"
	FunctionConductor = "conductor"
	FunctionCron      = "cron"
)

// Functions lists every Lambda the stack deploys, so Artifacts.Check and the
// tests agree with what is built.
var Functions = []string{FunctionAPI, FunctionConductor, FunctionCron}

// functionSpec sizes one Lambda.
type functionSpec struct {
	name    string
	memory  int // MB; CPU grows with it
	timeout int // seconds
}

var functionSpecs = map[string]functionSpec{
	// API Gateway HTTP APIs wait at most 30 s for an integration.
	FunctionAPI: {FunctionAPI, 1024, 29},
	// A Dispatch of a job with parallelism 100 enqueues 100 tasks in
	// batches of 10; a minute leaves room for SQS and DynamoDB retries.
	FunctionConductor: {FunctionConductor, 512, 60},
	FunctionCron:      {FunctionCron, 256, 55}, // less than its one-minute period
}

// functions are the Lambdas, the HTTP API in front of api and the
// schedule that runs cron.
type functions struct {
	api, conductor, cron awslambda.Function
	roles                map[string]awsiam.Role
	httpAPI              awsapigatewayv2.HttpApi
	url                  *string // public base URL of the API
	apiStage             awsapigatewayv2.IHttpStage
}

func newFunctions(st awscdk.Stack, s Settings, a Artifacts, d *data, m machineArns) *functions {
	f := &functions{roles: map[string]awsiam.Role{}}
	mk := func(id string, spec functionSpec) awslambda.Function {
		role := awsiam.NewRole(st, jsii.String(id+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("Orbit " + spec.name + " Lambda: only what that function does"),
		})
		f.roles[spec.name] = role
		logs := awslogs.NewLogGroup(st, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String("/aws/lambda/" + s.Name + "-" + spec.name),
			Retention:     logRetention(s.RetentionDays),
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		// Write access to its own log group only, instead of the
		// AWSLambdaBasicExecutionRole managed policy (logs:* on every group).
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: jsii.Strings(*logs.LogGroupArn() + ":*"),
		}))
		return awslambda.NewFunction(st, jsii.String(id), &awslambda.FunctionProps{
			FunctionName:  jsii.String(s.Name + "-" + spec.name),
			Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:  awslambda.Architecture_ARM_64(),
			Handler:       jsii.String("bootstrap"),
			Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(a.LambdaDir, spec.name+".zip")), nil),
			MemorySize:    jsii.Number(float64(spec.memory)),
			Timeout:       awscdk.Duration_Seconds(jsii.Number(float64(spec.timeout))),
			Role:          role,
			LogGroup:      logs,
			LoggingFormat: awslambda.LoggingFormat_JSON,
			// Lambdas reach only AWS APIs and GitHub, all public endpoints:
			// outside the VPC they need no NAT and no ENIs.
			Environment: ptrMap(environment(s, d, m)),
		})
	}
	f.api = mk("ApiFunction", functionSpecs[FunctionAPI])
	f.conductor = mk("ConductorFunction", functionSpecs[FunctionConductor])
	f.cron = mk("CronFunction", functionSpecs[FunctionCron])

	f.httpAPI = awsapigatewayv2.NewHttpApi(st, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:     jsii.String(s.Name),
		Description: jsii.String("Orbit: REST API v2, UI, runner API and webhooks (Lambda " + s.Name + "-api)"),
		DefaultIntegration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Api"), f.api,
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			}),
		DisableExecuteApiEndpoint: jsii.Bool(s.Domain != ""),
	})
	f.apiStage = f.httpAPI.DefaultStage()
	if s.Domain == "" {
		f.url = f.httpAPI.ApiEndpoint()
	} else {
		dn := awsapigatewayv2.NewDomainName(st, jsii.String("Domain"), &awsapigatewayv2.DomainNameProps{
			DomainName:     jsii.String(s.Domain),
			Certificate:    awscertificatemanager.Certificate_FromCertificateArn(st, jsii.String("Certificate"), jsii.String(s.CertificateArn)),
			SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
		})
		awsapigatewayv2.NewApiMapping(st, jsii.String("DomainMapping"), &awsapigatewayv2.ApiMappingProps{
			Api: f.httpAPI, DomainName: dn, Stage: f.apiStage,
		})
		f.url = jsii.String("https://" + s.Domain)
		awscdk.NewCfnOutput(st, jsii.String("DomainTarget"), &awscdk.CfnOutputProps{
			Description: jsii.String("Point a CNAME (or Route 53 alias) for " + s.Domain + " at this name"),
			Value:       dn.RegionalDomainName(),
		})
	}
	// The public URL. Without a domain, api cannot be told its own
	// execute-api URL (the API's integration depends on the function), so
	// it takes the host of each request; the other processes are told.
	if s.Domain != "" {
		f.api.AddEnvironment(jsii.String(EnvURL), f.url, nil)
	}
	f.conductor.AddEnvironment(jsii.String(EnvURL), f.url, nil)
	f.cron.AddEnvironment(jsii.String(EnvURL), f.url, nil)

	accessLogs := awslogs.NewLogGroup(st, jsii.String("HttpApiAccessLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/apigateway/" + s.Name),
		Retention:     logRetention(s.RetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	stage := f.apiStage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		// No query strings or headers: tokens never reach the logs.
		Format: jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod","path":"$context.path","status":"$context.status","latencyMs":"$context.responseLatency","integrationError":"$context.integrationErrorMessage"}`),
	})
	stage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{
		ThrottlingBurstLimit: jsii.Number(500),
		ThrottlingRateLimit:  jsii.Number(1000),
	})

	// Scheduled pipelines: cron runs every minute (the seed's cron-service).
	awsscheduler.NewSchedule(st, jsii.String("CronSchedule"), &awsscheduler.ScheduleProps{
		ScheduleName: jsii.String(s.Name + "-cron"),
		Description:  jsii.String("Orbit scheduled pipelines: each minute"),
		Schedule:     awsscheduler.ScheduleExpression_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Target: awsschedulertargets.NewLambdaInvoke(f.cron, &awsschedulertargets.ScheduleTargetBaseProps{
			// A late minute is worth nothing once the next one ran.
			MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(1)),
			RetryAttempts: jsii.Number(2),
		}),
	})
	return f
}

// environment is what every Orbit process is told about the installation.
func environment(s Settings, d *data, m machineArns) map[string]*string {
	env := map[string]*string{
		EnvShape:            jsii.String("aws"),
		EnvTable:            d.table.TableName(),
		EnvBucket:           d.bucket.BucketName(),
		EnvRunQueueURL:      d.runQueue.QueueUrl(),
		EnvDeadLetterURL:    d.deadLetter.QueueUrl(),
		EnvKMSKey:           d.key.KeyArn(),
		EnvSigningSecret:    d.signing.SecretArn(),
		EnvGitHubURL:        jsii.String(s.GitHubURL),
		EnvGitHubSecret:     d.github.SecretArn(),
		EnvAuth:             jsii.String(s.Auth),
		EnvMetricsNamespace: jsii.String(s.MetricsNamespace),
		EnvRetentionDays:    jsii.String(strconv.Itoa(s.RetentionDays)),
		EnvWarmAgents:       jsii.String(strconv.Itoa(s.WarmAgents)),
		EnvLogFormat:        jsii.String("json"),
		EnvInstallation:     jsii.String(s.Name),
	}
	m.env(env)
	if s.Auth == "ldap" {
		l := s.LDAP
		for k, v := range map[string]string{
			EnvLDAPFlavor: l.Flavor, EnvLDAPURL: l.URL, EnvLDAPStartTLS: strconv.FormatBool(l.StartTLS),
			EnvLDAPSearchUser: l.SearchUser, EnvLDAPUserSearchDN: l.UserSearchDN,
			EnvLDAPUsernameAttr: l.UsernameAttribute, EnvLDAPGroupMember: l.GroupMembership,
			EnvLDAPGroupClass: l.GroupObjectClass,
		} {
			env[k] = jsii.String(v)
		}
		env[EnvLDAPSecret] = d.ldap.SecretArn()
	}
	if s.HTTPProxy != "" {
		env[EnvHTTPProxy], env[EnvHTTPSProxy] = jsii.String(s.HTTPProxy), jsii.String(s.HTTPProxy)
		env[EnvNoProxy] = jsii.String(noProxy(s))
	}
	return env
}

// noProxy never proxies the instance metadata service, the VPC's own
// addresses or the AWS APIs that have no reason to leave AWS (the seed's
// NO_PROXY advice for S3 and the metadata address).
func noProxy(s Settings) string {
	v := "169.254.169.254,169.254.170.2,localhost,127.0.0.1,.internal,s3.amazonaws.com,.s3.amazonaws.com"
	if s.NoProxy != "" {
		v += "," + s.NoProxy
	}
	return v
}

// logRetention maps days to the nearest CloudWatch Logs retention that is
// at least as long.
func logRetention(days int) awslogs.RetentionDays {
	steps := []struct {
		days int
		r    awslogs.RetentionDays
	}{
		{1, awslogs.RetentionDays_ONE_DAY}, {3, awslogs.RetentionDays_THREE_DAYS},
		{5, awslogs.RetentionDays_FIVE_DAYS}, {7, awslogs.RetentionDays_ONE_WEEK},
		{14, awslogs.RetentionDays_TWO_WEEKS}, {30, awslogs.RetentionDays_ONE_MONTH},
		{60, awslogs.RetentionDays_TWO_MONTHS}, {90, awslogs.RetentionDays_THREE_MONTHS},
		{120, awslogs.RetentionDays_FOUR_MONTHS}, {150, awslogs.RetentionDays_FIVE_MONTHS},
		{180, awslogs.RetentionDays_SIX_MONTHS}, {365, awslogs.RetentionDays_ONE_YEAR},
		{400, awslogs.RetentionDays_THIRTEEN_MONTHS}, {545, awslogs.RetentionDays_EIGHTEEN_MONTHS},
		{731, awslogs.RetentionDays_TWO_YEARS}, {1096, awslogs.RetentionDays_THREE_YEARS},
		{1827, awslogs.RetentionDays_FIVE_YEARS}, {2192, awslogs.RetentionDays_SIX_YEARS},
		{2557, awslogs.RetentionDays_SEVEN_YEARS}, {2922, awslogs.RetentionDays_EIGHT_YEARS},
		{3288, awslogs.RetentionDays_NINE_YEARS},
	}
	for _, st := range steps {
		if days <= st.days {
			return st.r
		}
	}
	return awslogs.RetentionDays_TEN_YEARS
}
