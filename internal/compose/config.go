package compose

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge"
)

// Shape is how Orbit runs: it decides which driver every port gets.
type Shape string

const (
	// Embedded is the all-in-one shape of `orbit up`: one bbolt file, a
	// blob directory and a key file under the data directory, metrics in
	// memory, the state machines run in process by statemachines/local.
	Embedded Shape = "embedded"
	// AWS is the serverless shape: DynamoDB, S3, SQS, KMS, CloudWatch and
	// Step Functions, with the API, conductor and cron as Lambda functions
	// and `orbit bridge` on its own instances.
	AWS Shape = "aws"
)

// Config is every setting of every Orbit process, read once at start
// (FromEnv, then the command's flags) and never looked up again while
// wiring. Zero values mean the component's default unless said otherwise.
type Config struct {
	// Shape selects the drivers ($ORBIT_SHAPE: embedded or aws; default
	// embedded).
	Shape Shape

	// Addr is where `orbit up` serves the API and UI, and where `orbit
	// bridge` serves its /status and /health-check ($ORBIT_ADDR; default
	// 127.0.0.1:8080 for up, 127.0.0.1:8081 for the bridge).
	Addr string
	// BaseURL is the API's URL as build agents reach it ($ORBIT_BASE_URL).
	// Embedded: default http://<the address up listens on>. AWS: the API
	// Gateway URL; the bridge requires it (agents call BaseURL/runner/v1).
	BaseURL string
	// LogFormat is text or json ($ORBIT_LOG_FORMAT; default text, json in
	// the aws shape).
	LogFormat string
	// LogLevel is debug, info, warn or error ($ORBIT_LOG_LEVEL; default
	// info).
	LogLevel string
	// PprofAddr, when set, serves Go's net/http/pprof profiles on this
	// address (keep it on loopback: profiles show internals)
	// ($ORBIT_PPROF_ADDR; default off). For operators chasing latency.
	PprofAddr string

	// DataDir holds the embedded state: orbit.db, blobs/, secret.key,
	// master.keys, nomad/ ($ORBIT_DATA; default .orbit). Embedded only.
	DataDir string
	// NomadAddr is the Nomad agent to use ($NOMAD_ADDR). Embedded: empty
	// starts a dev agent under DataDir; the bridge in AWS requires it (or
	// Nomad's own default, the local agent).
	NomadAddr string
	// NomadBin is the Nomad binary of the dev agent ($ORBIT_NOMAD_BIN;
	// default bin/nomad beside the orbit binary, else nomad on PATH).
	NomadBin string
	// NomadRestartDelay is how long the embedded shape waits before it
	// restarts a dev agent that died ($ORBIT_NOMAD_RESTART_DELAY; default
	// 1s).
	NomadRestartDelay time.Duration

	// AgentPath is the build agent binary Nomad starts in each allocation
	// as `<AgentPath> agent` ($ORBIT_AGENT_PATH; default orbit-agent beside
	// the running binary when it is there, else the running binary itself).
	// It must exist at that path on every Nomad client. orbit-agent starts in
	// a few milliseconds; orbit (with the server linked in) in tens.
	AgentPath string

	// WarmAgents is how many warm build agents of the default resource
	// class (medium) wait on Nomad for a task, the seed's "prescale"
	// ($ORBIT_WARM_AGENTS; default 1 embedded, 0 in AWS). Each runs one task
	// and is replaced.
	WarmAgents int
	// WarmIdle retires the warm agents after this long without a task; 0
	// never ($ORBIT_WARM_IDLE_AFTER; default 30m). The next task goes cold
	// and brings them back.
	WarmIdle time.Duration

	// JobTimeout bounds a job's run ($ORBIT_JOB_TIMEOUT; default 5h, CircleCI
	// Server's).
	JobTimeout time.Duration
	// HeartbeatInterval is how often the bridge heartbeats running tasks
	// ($ORBIT_HEARTBEAT_INTERVAL). Embedded default 2 s: the runner API is
	// in process, so a cancel stops a task within seconds. AWS default 30 s:
	// each heartbeat is an API Gateway request and a Lambda invocation.
	HeartbeatInterval time.Duration
	// OutputInterval is how long a step's output collects in the build
	// agent before it is sent to the runner API ($ORBIT_OUTPUT_INTERVAL).
	// Embedded default 250ms (live output). AWS default 10s: each send is an
	// API Gateway request, a Lambda invocation and a DynamoDB write, and at
	// 250 ms a chatty 5-minute step made 1,200 of them (docs/COST.md).
	OutputInterval time.Duration
	// ResourceScale multiplies resource classes' CPU and memory
	// ($ORBIT_RESOURCE_SCALE; default 0.05 embedded so a laptop places
	// jobs, 1 in AWS).
	ResourceScale float64
	// CACertDir holds extra CA certificates (the seed's custom root CA)
	// trusted by the bridge's clients and, on the Nomad clients, by agents
	// and steps ($ORBIT_CA_CERT_DIR).
	CACertDir string
	// Proxy is HTTP(S)_PROXY and NO_PROXY as read at start, passed on to
	// agents and their steps.
	Proxy nomadbridge.ProxyEnv

	// Secret is the installation secret every signing key derives from
	// (Keys). AWS: $ORBIT_SECRET, base64 of at least 32 bytes, or else the
	// Secrets Manager secret AWS.SigningSecretARN, required by the api,
	// the conductor and the bridge. Embedded: read from (or created as)
	// DataDir/secret.key.
	Secret []byte

	// AuditFlushInterval is how often `orbit up` moves the audit outbox
	// into the hourly files ($ORBIT_AUDIT_FLUSH_INTERVAL; default 1m, the
	// cron function's minute in AWS).
	AuditFlushInterval time.Duration
	// UsageStatistics opts in to sending the seed's usage statistics
	// ($ORBIT_USAGE_STATISTICS=1; default off). Off, nothing is sent
	// anywhere; `orbit admin usage` shows the tables either way. Orbit has
	// no phone-home endpoint yet, so on only shows in /status.
	UsageStatistics bool
	// Notify configures the workflow mails (failed, fixed).
	Notify NotifyConfig
	// StatsD also sends the metrics to a StatsD/DogStatsD agent (statsd.go).
	StatsD StatsDConfig
	// SSHIdle and SSHMax bound a job rerun with SSH after its steps: it ends
	// SSHIdle after the last session ($ORBIT_SSH_IDLE; default 10m) and
	// after SSHMax at most ($ORBIT_SSH_MAX; default 2h).
	SSHIdle, SSHMax time.Duration

	// AWS names the resources of the aws shape.
	AWS AWSConfig
	// VM chooses the VM pool of machine and remote Docker jobs (ec2pool.go).
	VM VMConfig
	// GitHub connects github.com or GitHub Enterprise (github.go); unset
	// means local-git projects only.
	GitHub GitHubConfig
	// LDAP is LDAP-only authentication (ldap.go).
	LDAP LDAPConfig
}

// NotifyConfig is how workflow mails leave: SMTP (embedded default) or SES
// (aws default). With neither SMTP host nor SES they are not sent.
type NotifyConfig struct {
	// From is the sender address ($ORBIT_MAIL_FROM; default
	// orbit@localhost).
	From string
	// SMTPAddr is the SMTP server, host:port ($ORBIT_SMTP_ADDR), the
	// seed's exim. Empty: no SMTP.
	SMTPAddr string
	// SES sends through Amazon SES ($ORBIT_MAIL_SES=1; the aws shape's
	// default when no SMTP server is set).
	SES bool
}

// AWSConfig names the AWS resources the aws shape uses: the CDK app sets
// them as the functions' and instances' environment.
type AWSConfig struct {
	// Region is the AWS region ($AWS_REGION, which Lambda sets; default
	// us-east-1).
	Region string
	// Endpoint, when set, is the endpoint of every AWS API
	// ($ORBIT_AWS_ENDPOINT): moto_server or LocalStack. It also makes S3
	// path-style.
	Endpoint string
	// StepFunctionsEndpoint overrides Endpoint for Step Functions
	// ($ORBIT_SFN_ENDPOINT): the emulated shape serves statemachines/local
	// there.
	StepFunctionsEndpoint string
	// CloudWatchQuery makes the CloudWatch client speak awsQuery instead of
	// the SDK's CBOR, which moto does not route ($ORBIT_CLOUDWATCH_QUERY=1;
	// tests only).
	CloudWatchQuery bool
	// Table is the DynamoDB table ($ORBIT_TABLE).
	Table string
	// Bucket is the S3 bucket ($ORBIT_BUCKET).
	Bucket string
	// RunQueueURL is the SQS run queue ($ORBIT_RUN_QUEUE_URL).
	RunQueueURL string
	// LifecycleQueueURL is the SQS queue of the Nomad client group's
	// termination lifecycle hook ($ORBIT_LIFECYCLE_QUEUE_URL, as the CDK app
	// sets it): the active bridge drains each leaving client before the
	// group terminates it (scalein.go). Empty: no scale-in handling.
	LifecycleQueueURL string
	// ScaleInDeadline bounds that drain ($ORBIT_SCALE_IN_DEADLINE; 0 is the
	// default, 5h, the job timeout; the CDK hook's global timeout allows
	// 16 h).
	ScaleInDeadline time.Duration
	// KMSKeyID is the KMS key of project and context secrets
	// ($ORBIT_KMS_KEY_ID: id, ARN or alias).
	KMSKeyID string
	// SigningSecretARN names the Secrets Manager secret that holds the
	// installation secret ($ORBIT_SIGNING_SECRET_ARN, as the CDK app sets
	// it). New reads it once, at start (a Lambda's cold start), when
	// ORBIT_SECRET is not set; its SecretString (at least 32 bytes, the
	// stack generates 64 characters) is the secret.
	SigningSecretARN string
	// MetricsNamespace is the CloudWatch namespace ($ORBIT_METRICS_NAMESPACE;
	// default Orbit).
	MetricsNamespace string
	// PipelineMachine, WorkflowMachine and JobMachine are the state
	// machines' ARNs ($ORBIT_PIPELINE_MACHINE, $ORBIT_WORKFLOW_MACHINE,
	// $ORBIT_JOB_MACHINE).
	PipelineMachine, WorkflowMachine, JobMachine string
}

// FromEnv reads the configuration from the environment (getenv is
// os.Getenv in a main) and fills in the defaults of its shape. A value that
// does not parse is an error naming its variable.
func FromEnv(getenv func(string) string) (Config, error) {
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Shape:     Shape(or("ORBIT_SHAPE", string(Embedded))),
		Addr:      getenv("ORBIT_ADDR"),
		BaseURL:   getenv("ORBIT_BASE_URL"),
		LogLevel:  or("ORBIT_LOG_LEVEL", "info"),
		PprofAddr: getenv("ORBIT_PPROF_ADDR"),
		DataDir:   or("ORBIT_DATA", ".orbit"),
		NomadAddr: getenv("NOMAD_ADDR"),
		NomadBin:  getenv("ORBIT_NOMAD_BIN"),
		AgentPath: getenv("ORBIT_AGENT_PATH"),
		CACertDir: getenv("ORBIT_CA_CERT_DIR"),
		Proxy:     nomadbridge.ProxyFromEnvironment(getenv),
		AWS: AWSConfig{
			Region:                or("AWS_REGION", "us-east-1"),
			Endpoint:              getenv("ORBIT_AWS_ENDPOINT"),
			StepFunctionsEndpoint: getenv("ORBIT_SFN_ENDPOINT"),
			CloudWatchQuery:       getenv("ORBIT_CLOUDWATCH_QUERY") == "1",
			Table:                 getenv("ORBIT_TABLE"),
			Bucket:                getenv("ORBIT_BUCKET"),
			RunQueueURL:           getenv("ORBIT_RUN_QUEUE_URL"),
			LifecycleQueueURL:     getenv("ORBIT_LIFECYCLE_QUEUE_URL"),
			KMSKeyID:              getenv("ORBIT_KMS_KEY_ID"),
			SigningSecretARN:      getenv("ORBIT_SIGNING_SECRET_ARN"),
			MetricsNamespace:      getenv("ORBIT_METRICS_NAMESPACE"),
			PipelineMachine:       getenv("ORBIT_PIPELINE_MACHINE"),
			WorkflowMachine:       getenv("ORBIT_WORKFLOW_MACHINE"),
			JobMachine:            getenv("ORBIT_JOB_MACHINE"),
		},
	}
	var heartbeat, scale, format, warm, output string
	switch c.Shape {
	case Embedded:
		heartbeat, scale, format, warm, output = "2s", "0.05", "text", "1", "250ms"
	case AWS:
		heartbeat, scale, format, warm, output = "30s", "1", "json", "0", "10s"
	default:
		return Config{}, fmt.Errorf("ORBIT_SHAPE=%q: want embedded or aws", c.Shape)
	}
	c.LogFormat = or("ORBIT_LOG_FORMAT", format)
	var err error
	if c.JobTimeout, err = duration(getenv, "ORBIT_JOB_TIMEOUT", "5h"); err != nil {
		return Config{}, err
	}
	if c.HeartbeatInterval, err = duration(getenv, "ORBIT_HEARTBEAT_INTERVAL", heartbeat); err != nil {
		return Config{}, err
	}
	if c.OutputInterval, err = duration(getenv, "ORBIT_OUTPUT_INTERVAL", output); err != nil {
		return Config{}, err
	}
	if c.NomadRestartDelay, err = duration(getenv, "ORBIT_NOMAD_RESTART_DELAY", "1s"); err != nil {
		return Config{}, err
	}
	w := or("ORBIT_WARM_AGENTS", warm)
	if c.WarmAgents, err = strconv.Atoi(w); err != nil || c.WarmAgents < 0 {
		return Config{}, fmt.Errorf("ORBIT_WARM_AGENTS=%q: want 0 or more", w)
	}
	if v := or("ORBIT_WARM_IDLE_AFTER", "30m"); v != "0" {
		if c.WarmIdle, err = duration(getenv, "ORBIT_WARM_IDLE_AFTER", "30m"); err != nil {
			return Config{}, err
		}
	}
	v := or("ORBIT_RESOURCE_SCALE", scale)
	if c.ResourceScale, err = strconv.ParseFloat(v, 64); err != nil || c.ResourceScale <= 0 {
		return Config{}, fmt.Errorf("ORBIT_RESOURCE_SCALE=%q: want a positive number such as 0.05 or 1", v)
	}
	if err := githubFromEnv(getenv, &c); err != nil {
		return Config{}, err
	}
	if err := ldapFromEnv(getenv, &c); err != nil {
		return Config{}, err
	}
	if err := vmFromEnv(getenv, &c); err != nil {
		return Config{}, err
	}
	if c.AuditFlushInterval, err = duration(getenv, "ORBIT_AUDIT_FLUSH_INTERVAL", "1m"); err != nil {
		return Config{}, err
	}
	c.UsageStatistics = getenv("ORBIT_USAGE_STATISTICS") == "1"
	if c.StatsD, err = statsDFromEnv(getenv); err != nil {
		return Config{}, err
	}
	if c.SSHIdle, err = duration(getenv, "ORBIT_SSH_IDLE", "10m"); err != nil {
		return Config{}, err
	}
	if c.SSHMax, err = duration(getenv, "ORBIT_SSH_MAX", "2h"); err != nil {
		return Config{}, err
	}
	if getenv("ORBIT_SCALE_IN_DEADLINE") != "" {
		if c.AWS.ScaleInDeadline, err = duration(getenv, "ORBIT_SCALE_IN_DEADLINE", ""); err != nil {
			return Config{}, err
		}
	}
	c.Notify = NotifyConfig{From: or("ORBIT_MAIL_FROM", "orbit@localhost"), SMTPAddr: getenv("ORBIT_SMTP_ADDR"),
		SES: getenv("ORBIT_MAIL_SES") == "1" || (c.Shape == AWS && getenv("ORBIT_SMTP_ADDR") == "")}
	if s := getenv("ORBIT_SECRET"); s != "" {
		if c.Secret, err = base64.StdEncoding.DecodeString(s); err != nil || len(c.Secret) < MinSecretBytes {
			return Config{}, fmt.Errorf("ORBIT_SECRET: want the base64 of at least %d random bytes", MinSecretBytes)
		}
	}
	return c, nil
}

// duration reads a positive duration ("90s", "5h") from the environment.
func duration(getenv func(string) string, name, def string) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		v = def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 90s or 5h", name, v)
	}
	return d, nil
}

// LogFlags registers --log-format and --log-level, defaulting to the values
// read from the environment.
func (c *Config) LogFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json ($ORBIT_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error ($ORBIT_LOG_LEVEL)")
}

// Logger returns the logger the configuration asks for, writing to w.
func (c Config) Logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.LogFormat)
}

// missing names the unset settings among pairs of (environment variable,
// value), or returns nil.
func missing(what string, pairs ...string) error {
	var unset []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			unset = append(unset, pairs[i])
		}
	}
	if len(unset) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s not set", what, strings.Join(unset, ", "))
}
