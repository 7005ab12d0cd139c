package stack

// Environment variables the stack gives Orbit's processes (the Lambdas and
// `orbit bridge` on its instances). This is the contract between the CDK app
// and the composition's configuration (cmd/orbit, functions/): the names
// here must be the ones the configuration reads.
const (
	EnvShape            = "ORBIT_SHAPE"            // "aws"
	EnvURL              = "ORBIT_BASE_URL"         // public base URL of the API and UI
	EnvTable            = "ORBIT_TABLE"            // the store's table name
	EnvBucket           = "ORBIT_BUCKET"           // the blob bucket's name
	EnvRunQueueURL      = "ORBIT_RUN_QUEUE_URL"    // the run queue's URL
	EnvDeadLetterURL    = "ORBIT_SQS_DLQ_URL"      // its dead-letter queue's URL
	EnvKMSKey           = "ORBIT_KMS_KEY_ID"       // the key for contexts' data keys (ARN)
	EnvPipelineMachine  = "ORBIT_PIPELINE_MACHINE" // state machine ARNs
	EnvWorkflowMachine  = "ORBIT_WORKFLOW_MACHINE" //
	EnvJobMachine       = "ORBIT_JOB_MACHINE"      //
	EnvSigningSecret    = "ORBIT_SIGNING_SECRET_ARN"
	EnvGitHubURL        = "ORBIT_GITHUB_URL"
	EnvGitHubSecret     = "ORBIT_GITHUB_SECRET_ARN" // {"client_id","client_secret","webhook_secret"}
	EnvAuth             = "ORBIT_AUTH"              // github | ldap
	EnvLDAPFlavor       = "ORBIT_LDAP_FLAVOR"       // openldap | ad
	EnvLDAPURL          = "ORBIT_LDAP_URL"
	EnvLDAPStartTLS     = "ORBIT_LDAP_STARTTLS"
	EnvLDAPSearchUser   = "ORBIT_LDAP_SEARCH_USER"
	EnvLDAPSecret       = "ORBIT_LDAP_SECRET_ARN" // {"password"}
	EnvLDAPUserSearchDN = "ORBIT_LDAP_USER_SEARCH_DN"
	EnvLDAPUsernameAttr = "ORBIT_LDAP_USERNAME_ATTRIBUTE"
	EnvLDAPGroupMember  = "ORBIT_LDAP_GROUP_MEMBERSHIP"
	EnvLDAPGroupClass   = "ORBIT_LDAP_GROUP_OBJECT_CLASS"
	EnvMetricsNamespace = "ORBIT_METRICS_NAMESPACE"
	EnvRetentionDays    = "ORBIT_RETENTION_DAYS" // TTL of build records, as the bucket's lifecycle
	EnvWarmAgents       = "ORBIT_WARM_AGENTS"
	EnvLogFormat        = "ORBIT_LOG_FORMAT" // "json"
	EnvHTTPProxy        = "HTTP_PROXY"
	EnvHTTPSProxy       = "HTTPS_PROXY"
	EnvNoProxy          = "NO_PROXY"
	// The bridge's own.
	EnvRunnerURL     = "ORBIT_RUNNER_URL" // runner API as build agents reach it
	EnvNomadAddr     = "NOMAD_ADDR"       // the local Nomad agent
	EnvAgentPath     = "ORBIT_AGENT_PATH" // the build agent binary (orbit-agent) on the Nomad clients
	EnvVMSubnets     = "ORBIT_VM_SUBNET_IDS"
	EnvVMSecGroup    = "ORBIT_VM_SECURITY_GROUP_ID"
	EnvVMProfile     = "ORBIT_VM_INSTANCE_PROFILE_ARN"
	EnvVMAMI         = "ORBIT_VM_AMI"
	EnvVMTemplate    = "ORBIT_VM_LAUNCH_TEMPLATE"
	EnvVMPool        = "ORBIT_VM_POOL" // "ec2"
	EnvVMType        = "ORBIT_VM_INSTANCE_TYPE"
	EnvVMPreMachine  = "ORBIT_VM_PREALLOCATED_MACHINE"
	EnvVMPreDocker   = "ORBIT_VM_PREALLOCATED_REMOTE_DOCKER"
	EnvVMPublic      = "ORBIT_VM_PUBLIC_ACCESS"
	EnvVMSSHGroup    = "ORBIT_VM_SSH_SECURITY_GROUP_ID"
	EnvVMHostMetrics = "ORBIT_VM_HOST_METRICS_NAMESPACE"
	EnvInstallation  = "ORBIT_INSTALLATION" // Settings.Name, the tag value of every VM
	// EnvLifecycleQueueURL is the client group's drain hook queue (scaling.go).
	EnvLifecycleQueueURL = "ORBIT_LIFECYCLE_QUEUE_URL"
)
