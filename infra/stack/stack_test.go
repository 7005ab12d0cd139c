package stack

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/statemachines"
)

func ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

func one(t *testing.T, typ string) (string, resource) {
	t.Helper()
	rs := ofType(typ)
	require.Len(t, rs, 1, typ)
	for id, r := range rs {
		return id, r
	}
	return "", resource{}
}

func props(m map[string]any) *map[string]any { return &m }

func match(v any) any { return assertions.Match_ObjectLike(props(v.(map[string]any))) }

// TestTable: the keys, indexes and TTL attribute are the ones dynamokv
// reads and writes; on-demand, PITR.
func TestTable(t *testing.T) {
	_, tbl := one(t, "AWS::DynamoDB::Table")
	p := tbl.Properties
	assert.Equal(t, "PAY_PER_REQUEST", p["BillingMode"])
	assert.Equal(t, map[string]any{"PointInTimeRecoveryEnabled": true}, p["PointInTimeRecoverySpecification"])
	assert.Equal(t, map[string]any{"AttributeName": dynamokv.AttrTTL, "Enabled": true}, p["TimeToLiveSpecification"])
	keys := func(v any) []string {
		var out []string
		for _, k := range v.([]any) {
			m := k.(map[string]any)
			out = append(out, m["AttributeName"].(string)+":"+m["KeyType"].(string))
		}
		return out
	}
	assert.Equal(t, []string{dynamokv.AttrPK + ":HASH", dynamokv.AttrSK + ":RANGE"}, keys(p["KeySchema"]))
	gsis := map[string][]string{}
	for _, g := range p["GlobalSecondaryIndexes"].([]any) {
		m := g.(map[string]any)
		assert.Equal(t, map[string]any{"ProjectionType": "ALL"}, m["Projection"])
		gsis[m["IndexName"].(string)] = keys(m["KeySchema"])
	}
	assert.Equal(t, map[string][]string{
		"GSI1": {dynamokv.AttrGSI1PK + ":HASH", dynamokv.AttrGSI1SK + ":RANGE"},
		"GSI2": {dynamokv.AttrGSI2PK + ":HASH", dynamokv.AttrGSI2SK + ":RANGE"},
	}, gsis)
	var attrs []string
	for _, a := range p["AttributeDefinitions"].([]any) {
		m := a.(map[string]any)
		assert.Equal(t, "S", m["AttributeType"])
		attrs = append(attrs, m["AttributeName"].(string))
	}
	sort.Strings(attrs)
	assert.Equal(t, []string{"GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "PK", "SK"}, attrs)
}

// TestBucket: versioned, SSE-KMS with the stack's key, public access
// blocked, TLS-only policy, lifecycle rules from the retention settings.
func TestBucket(t *testing.T) {
	tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), match(map[string]any{
		"VersioningConfiguration": map[string]any{"Status": "Enabled"},
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
			"BucketKeyEnabled": true,
			"ServerSideEncryptionByDefault": map[string]any{
				"SSEAlgorithm":   "aws:kms",
				"KMSMasterKeyID": map[string]any{"Fn::GetAtt": []any{keyID(t), "Arn"}},
			},
		}}},
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
	}))
	var rules []any
	for _, b := range ofType("AWS::S3::Bucket") {
		if b.Properties["VersioningConfiguration"] != nil {
			rules = b.Properties["LifecycleConfiguration"].(map[string]any)["Rules"].([]any)
		}
	}
	byID := map[string]map[string]any{}
	for _, r := range rules {
		m := r.(map[string]any)
		byID[m["Id"].(string)] = m
	}
	assert.EqualValues(t, 45, byID["expire-build-data"]["ExpirationInDays"])
	assert.Equal(t, "projects/", byID["expire-build-data"]["Prefix"])
	assert.EqualValues(t, 365, byID["expire-audit-logs"]["ExpirationInDays"])
	assert.Equal(t, "audit-logs/", byID["expire-audit-logs"]["Prefix"])
	assert.NotNil(t, byID["noncurrent-and-uploads"]["NoncurrentVersionExpiration"])

	// Every bucket denies requests that are not over TLS.
	policies := ofType("AWS::S3::BucketPolicy")
	require.Len(t, policies, len(ofType("AWS::S3::Bucket")))
	for id, p := range policies {
		found := false
		for _, st := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			m := st.(map[string]any)
			cond, _ := m["Condition"].(map[string]any)
			b, _ := cond["Bool"].(map[string]any)
			found = found || (m["Effect"] == "Deny" && b["aws:SecureTransport"] == "false")
		}
		assert.True(t, found, "bucket policy %s denies non-TLS requests", id)
	}
}

func keyID(t *testing.T) string {
	id, _ := one(t, "AWS::KMS::Key")
	return id
}

// TestQueues: the run queue dead-letters after runQueueMaxReceive receives,
// keeps the zero wait and delay sqsqueue needs, and all are KMS-encrypted.
func TestQueues(t *testing.T) {
	qs := ofType("AWS::SQS::Queue")
	require.Len(t, qs, 3, "the run queue, its dead letters, the lifecycle queue")
	var run, dlqID string
	for id, q := range qs {
		switch {
		case strings.HasPrefix(id, "RunQueue"):
			run = id
		case strings.HasPrefix(id, "RunDeadLetterQueue"):
			dlqID = id
		}
		assert.Equal(t, map[string]any{"Fn::GetAtt": []any{keyID(t), "Arn"}}, q.Properties["KmsMasterKeyId"], id)
	}
	p := qs[run].Properties
	assert.Equal(t, map[string]any{
		"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}},
		"maxReceiveCount":     float64(runQueueMaxReceive),
	}, p["RedrivePolicy"])
	assert.EqualValues(t, 0, p["ReceiveMessageWaitTimeSeconds"])
	assert.EqualValues(t, 0, p["DelaySeconds"])
	assert.EqualValues(t, runQueueVisibility, p["VisibilityTimeout"])
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// TestStateMachines: each machine's definition is the embedded file, byte
// for byte (the interpreter runs the same), and its substitutions fill
// every placeholder of that file with the conductor's ARN, no more.
func TestStateMachines(t *testing.T) {
	conductorID, _ := func() (string, resource) {
		for id, r := range ofType("AWS::Lambda::Function") {
			if r.Properties["FunctionName"] == "orbit-conductor" {
				return id, r
			}
		}
		t.Fatal("no conductor function")
		return "", resource{}
	}()
	byName := map[string]resource{}
	for _, r := range ofType("AWS::StepFunctions::StateMachine") {
		byName[r.Properties["StateMachineName"].(string)] = r
	}
	for name, def := range map[string][]byte{
		"orbit-pipeline": statemachines.Pipeline, "orbit-workflow": statemachines.Workflow, "orbit-job": statemachines.Job,
	} {
		t.Run(name, func(t *testing.T) {
			sm, ok := byName[name]
			require.True(t, ok, "machine %s", name)
			assert.Equal(t, string(def), sm.Properties["DefinitionString"])
			assert.Equal(t, "STANDARD", sm.Properties["StateMachineType"])
			subs := sm.Properties["DefinitionSubstitutions"].(map[string]any)
			var want, got []string
			for _, m := range placeholderRE.FindAllStringSubmatch(string(def), -1) {
				if !contains(want, m[1]) {
					want = append(want, m[1])
				}
			}
			for k, v := range subs {
				got = append(got, k)
				assert.Equal(t, map[string]any{"Fn::GetAtt": []any{conductorID, "Arn"}}, v, k)
			}
			sort.Strings(want)
			sort.Strings(got)
			assert.Equal(t, want, got)
		})
	}
	assert.Len(t, byName, 3)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestFunctionsAndAPI: arm64 provided.al2023 bootstraps behind a payload
// 2.0 HTTP API on the domain, cron every minute from EventBridge Scheduler.
func TestFunctionsAndAPI(t *testing.T) {
	names := []string{}
	for _, f := range ofType("AWS::Lambda::Function") {
		name, ok := f.Properties["FunctionName"].(string)
		if !ok {
			continue // CDK's own custom-resource handlers
		}
		names = append(names, name)
		assert.Equal(t, "provided.al2023", f.Properties["Runtime"])
		assert.Equal(t, []any{"arm64"}, f.Properties["Architectures"])
		assert.Equal(t, "bootstrap", f.Properties["Handler"])
		env := f.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		assert.Equal(t, "aws", env[EnvShape])
		assert.Equal(t, "ldap", env[EnvAuth])
		assert.Equal(t, "https://ci.example.com", env[EnvURL])
		assert.NotNil(t, env[EnvJobMachine])
	}
	sort.Strings(names)
	assert.Equal(t, []string{"orbit-api", "orbit-conductor", "orbit-cron"}, names)

	tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Integration"), match(map[string]any{
		"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0",
	}))
	tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), match(map[string]any{
		"ProtocolType": "HTTP", "DisableExecuteApiEndpoint": true,
	}))
	tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), match(map[string]any{
		"DomainName": "ci.example.com",
	}))
	_, sched := one(t, "AWS::Scheduler::Schedule")
	assert.Equal(t, "rate(1 minute)", sched.Properties["ScheduleExpression"])
	target := sched.Properties["Target"].(map[string]any)
	assert.Contains(t, target["Arn"].(map[string]any)["Fn::GetAtt"].([]any)[0], "CronFunction")
}

// TestLeastPrivilege: cron cannot touch keys or the queue, touches blobs
// only under audit-logs/ (the audit log), and only starts pipelines; no
// policy grants "*" actions.
func TestLeastPrivilege(t *testing.T) {
	for id, p := range ofType("AWS::IAM::Policy") {
		for _, st := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			m := st.(map[string]any)
			for _, a := range asList(m["Action"]) {
				assert.NotContains(t, []string{"*", "s3:*", "dynamodb:*", "sqs:*", "kms:*", "states:*", "ec2:*"}, a, id)
				if strings.HasPrefix(id, "CronFunctionRole") {
					assert.False(t, strings.HasPrefix(a, "sqs:") || a == "states:StopExecution", "cron may not %s", a)
					if strings.HasPrefix(a, "s3:") && a != "s3:GetBucket*" && a != "s3:List*" {
						res, _ := json.Marshal(m["Resource"])
						assert.Contains(t, string(res), "/audit-logs/*", "cron's %s only under audit-logs/", a)
					}
				}
			}
		}
	}
}

func asList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i], _ = x.(string)
		}
		return out
	}
	return nil
}

// TestFleet: three servers, two bridges, clients with the drain hook on
// termination and working-hours schedules in the configured time zone.
func TestFleet(t *testing.T) {
	groups := map[string]map[string]any{}
	for _, g := range ofType("AWS::AutoScaling::AutoScalingGroup") {
		groups[g.Properties["AutoScalingGroupName"].(string)] = g.Properties
	}
	require.Len(t, groups, 3)
	assert.Equal(t, "3", groups["orbit-nomad-servers"]["MinSize"])
	assert.Equal(t, "3", groups["orbit-nomad-servers"]["MaxSize"])
	assert.Equal(t, "2", groups["orbit-bridges"]["MinSize"])
	assert.Equal(t, "1", groups["orbit-nomad-clients"]["MinSize"])
	assert.Equal(t, "8", groups["orbit-nomad-clients"]["MaxSize"])

	_, hook := one(t, "AWS::AutoScaling::LifecycleHook")
	assert.Equal(t, "autoscaling:EC2_INSTANCE_TERMINATING", hook.Properties["LifecycleTransition"])
	assert.Equal(t, "CONTINUE", hook.Properties["DefaultResult"])
	assert.EqualValues(t, hookHeartbeat*60, hook.Properties["HeartbeatTimeout"])
	assert.Equal(t, "drain", hook.Properties["LifecycleHookName"])
	// The hook notifies the lifecycle queue, which the bridge reads.
	lq := refTo(t, "AWS::SQS::Queue", func(p map[string]any) bool { return p["QueueName"] == "orbit-lifecycle" })
	target, _ := json.Marshal(hook.Properties["NotificationTargetARN"])
	assert.Contains(t, string(target), lq)
	assert.NotEmpty(t, hook.Properties["RoleARN"])

	// Only the bridge completes lifecycle actions: on the client group, and
	// it consumes the lifecycle queue.
	for id, p := range ofType("AWS::IAM::Policy") {
		doc, _ := json.Marshal(p.Properties["PolicyDocument"])
		if strings.Contains(string(doc), "autoscaling:CompleteLifecycleAction") {
			assert.True(t, strings.HasPrefix(id, "BridgesRole"), "%s may complete lifecycle actions", id)
			assert.Contains(t, string(doc), "autoScalingGroupName/orbit-nomad-clients")
			assert.Contains(t, string(doc), lq, "the bridge consumes the lifecycle queue")
		}
	}

	actions := map[string]map[string]any{}
	for _, a := range ofType("AWS::AutoScaling::ScheduledAction") {
		actions[a.Properties["Recurrence"].(string)] = a.Properties
	}
	require.Len(t, actions, 2)
	assert.EqualValues(t, 3, actions["0 8 * * 1-5"]["MinSize"])
	assert.EqualValues(t, 1, actions["0 19 * * 1-5"]["MinSize"])
	assert.Equal(t, "Europe/Paris", actions["0 8 * * 1-5"]["TimeZone"])

	// Demand scaling: step policies out and in on the waiting work.
	steps := map[string][]any{}
	for _, p := range ofType("AWS::AutoScaling::ScalingPolicy") {
		assert.Equal(t, "StepScaling", p.Properties["PolicyType"])
		var changes []any
		for _, a := range p.Properties["StepAdjustments"].([]any) {
			changes = append(changes, a.(map[string]any)["ScalingAdjustment"])
		}
		steps[fmt.Sprint(changes)] = changes
	}
	assert.Contains(t, steps, "[1 2 4]", "scale out by 1, 2, 4 clients")
	assert.Contains(t, steps, "[-1]", "scale in one client at a time")
	var backlogAlarms int
	for _, a := range ofType("AWS::CloudWatch::Alarm") {
		if m, _ := json.Marshal(a.Properties["Metrics"]); strings.Contains(string(m), "FILL(queued, 0) + FILL(pending, 0)") {
			backlogAlarms++
		}
	}
	assert.Equal(t, 2, backlogAlarms, "one alarm scales out, one scales in")

	// The clients' user data reserves 2 vCPU / 4 GiB and gives Nomad's
	// dynamic ports the seed's SSH range; no drain watcher runs there.
	var clientUD string
	for id, lt := range ofType("AWS::EC2::LaunchTemplate") {
		data := lt.Properties["LaunchTemplateData"].(map[string]any)
		assert.Equal(t, "required", data["MetadataOptions"].(map[string]any)["HttpTokens"], id)
		assert.Equal(t, true, data["BlockDeviceMappings"].([]any)[0].(map[string]any)["Ebs"].(map[string]any)["Encrypted"], id)
		if strings.HasPrefix(id, "NomadClientsTemplate") {
			clientUD = flatten(data["UserData"])
		}
	}
	for _, want := range []string{`cores  = "0-1"`, "memory = 4096", "min_dynamic_port = 64535", "max_dynamic_port = 65535",
		"HTTP_PROXY=http://proxy.internal:3128"} {
		assert.Contains(t, clientUD, want)
	}
	assert.NotContains(t, clientUD, "complete-lifecycle-action")
	var sshRule bool
	for _, sg := range ofType("AWS::EC2::SecurityGroupIngress") {
		if sg.Properties["FromPort"] == float64(64535) && sg.Properties["ToPort"] == float64(65535) {
			sshRule = true
		}
	}
	for _, sg := range ofType("AWS::EC2::SecurityGroup") {
		for _, r := range asAnyList(sg.Properties["SecurityGroupIngress"]) {
			if m := r.(map[string]any); m["FromPort"] == float64(64535) && m["ToPort"] == float64(65535) {
				sshRule = true
			}
		}
	}
	assert.True(t, sshRule, "no ingress for SSH into builds on 64535-65535")
}

func asAnyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// refTo returns the logical id of the one resource of a type that match
// accepts.
func refTo(t *testing.T, typ string, match func(map[string]any) bool) string {
	t.Helper()
	for id, r := range ofType(typ) {
		if match(r.Properties) {
			return id
		}
	}
	t.Fatalf("no %s matches", typ)
	return ""
}

// flatten joins the literal parts of an Fn::Base64 / Fn::Join value.
func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, x := range v {
			b.WriteString(flatten(x))
		}
		return b.String()
	case map[string]any:
		var b strings.Builder
		for k, x := range v {
			if k == "Fn::Base64" || k == "Fn::Join" {
				b.WriteString(flatten(x))
			}
		}
		return b.String()
	}
	return ""
}

// TestAlarms: every alarm the operator needs exists, on the metric it
// names, and notifies the topic.
func TestAlarms(t *testing.T) {
	byName := map[string]map[string]any{}
	for _, a := range ofType("AWS::CloudWatch::Alarm") {
		name, named := a.Properties["AlarmName"].(string)
		if !named { // a step scaling policy's alarm: its action is the policy
			continue
		}
		byName[name] = a.Properties
		assert.NotEmpty(t, a.Properties["AlarmActions"])
	}
	for _, tc := range []struct {
		name, namespace, metric string
	}{
		{"orbit-RunQueueAge", "AWS/SQS", "ApproximateAgeOfOldestMessage"},
		{"orbit-NomadPollFailure", "Orbit", "circle.nomad.server_agent.poll_failure"},
		{"orbit-NomadJobsPending", "Orbit", "circle.nomad.server_agent.jobs.pending"},
		{"orbit-DeadLetterQueue", "AWS/SQS", "ApproximateNumberOfMessagesVisible"},
		{"orbit-PipelineExecutionsFailed", "AWS/States", "ExecutionsFailed"},
		{"orbit-WorkflowExecutionsFailed", "AWS/States", "ExecutionsFailed"},
		{"orbit-JobExecutionsFailed", "AWS/States", "ExecutionsFailed"},
		{"orbit-Api5xx", "AWS/ApiGateway", "5xx"},
		{"orbit-ApiLambdaErrors", "AWS/Lambda", "Errors"},
		{"orbit-ConductorLambdaThrottles", "AWS/Lambda", "Throttles"},
		{"orbit-CronLambdaErrors", "AWS/Lambda", "Errors"},
		{"orbit-VmStaleFound", "Orbit", "circle.vm_service.gc.stale_found"},
		{"orbit-DlcVolumes", "Orbit", "circle.vm_service.dlc.volumes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := byName[tc.name]
			require.True(t, ok)
			assert.Equal(t, tc.namespace, a["Namespace"])
			assert.Equal(t, tc.metric, a["MetricName"])
		})
	}
	assert.Equal(t, "breaching", byName["orbit-NomadPollFailure"]["TreatMissingData"])
	assert.EqualValues(t, queueAgeSeconds+1, byName["orbit-RunQueueAge"]["Threshold"])
	one(t, "AWS::CloudWatch::Dashboard")
}
