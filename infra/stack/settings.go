package stack

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Settings are the install-time choices of one Orbit installation: what
// CircleCI Server's Management Console (Replicated, port 8800) held, plus the
// shape of the AWS fleet. Each field is read from the CDK context key named
// in its comment (`cdk deploy -c key=value`, or "context" in cdk.json);
// SettingsFromContext validates them all and names every key that is wrong.
//
// Settings an administrator changes while Orbit runs (suspend new users,
// required organisations, serving unsafe artifact content types) are admin
// settings in the store, not here: changing them needs no deploy, where the
// Management Console needed a restart ("Any change to the settings within the
// Management Console will incur downtime").
type Settings struct {
	// Name prefixes every resource name ("name", default "orbit"): two
	// installations in one account need two names.
	Name string
	// Region is the AWS region ("region", default $CDK_DEFAULT_REGION).
	Region string
	// Account is the AWS account ("account", default $CDK_DEFAULT_ACCOUNT;
	// may stay empty for an environment-agnostic synth).
	Account string

	// VpcID selects an existing VPC ("vpcId"); "" creates one with
	// NatGateways NAT gateways over MaxAZs availability zones.
	VpcID string
	// PrivateSubnetIDs are the existing VPC's private subnets with egress
	// ("privateSubnetIds", comma-separated), required with VpcID.
	PrivateSubnetIDs []string
	// AvailabilityZones of those subnets, in the same order
	// ("availabilityZones", comma-separated), required with VpcID.
	AvailabilityZones []string
	// MaxAZs of a new VPC ("maxAzs", default 2).
	MaxAZs int
	// NatGateways of a new VPC ("natGateways", default 1; the seed's
	// clients needed outbound access to GitHub and image registries).
	NatGateways int

	// Domain is the public host name of the API and UI ("domain", optional;
	// the Management Console's "Hostname"). With it, CertificateArn is
	// required and the API answers on https://Domain; without it, on the
	// HTTP API's execute-api URL.
	Domain string
	// CertificateArn is the ACM certificate for Domain ("certificateArn";
	// the console's "Privacy" certificate, managed by ACM instead).
	CertificateArn string

	// NomadClients sizes the build fleet.
	NomadClients ClientFleet
	// NomadServerInstanceType ("nomadServerInstanceType", default t3.small)
	// of the three Nomad servers.
	NomadServerInstanceType string
	// BridgeInstanceType ("bridgeInstanceType", default t3.small) of the two
	// bridge instances (one active, one standby).
	BridgeInstanceType string

	// RetentionDays is how long build output, artifacts, test results and
	// caches are kept ("retentionDays", default 30, CircleCI's artifact
	// retention), through S3 lifecycle rules and DynamoDB TTL.
	RetentionDays int
	// AuditRetentionDays is how long audit logs are kept
	// ("auditRetentionDays", default 365; ≥ RetentionDays).
	AuditRetentionDays int

	// GitHubURL is github.com or a GitHub Enterprise URL ("githubUrl",
	// default https://github.com): the console's "GitHub type".
	GitHubURL string
	// GitHubSecretArn names an existing Secrets Manager secret holding
	// {"client_id","client_secret","webhook_secret"} ("githubSecretArn");
	// "" creates one with a generated webhook secret, whose OAuth fields the
	// operator fills after the first deploy.
	GitHubSecretArn string
	// Auth is "github" (default) or "ldap" ("auth"): the console's
	// "Enable LDAP-only Authentication".
	Auth string
	// LDAP is read only when Auth is "ldap".
	LDAP LDAPSettings

	// MetricsNamespace is the CloudWatch namespace of Orbit's metrics
	// ("metricsNamespace", default "Orbit"): the console's CloudWatch
	// "namespace". Datadog forwarding is not offered.
	MetricsNamespace string
	// HTTPProxy and NoProxy are given to every instance and build
	// ("httpProxy", "noProxy"; the seed's "Service Machine Proxy
	// Configuration" and "Nomad Client Proxy Setup").
	HTTPProxy, NoProxy string

	// WarmAgents is how many build agents wait on Nomad ahead of demand
	// ("warmAgents", default 1): the console's prescale setting.
	WarmAgents int
	// VM are the console's "VM Provider" settings (machine and remote Docker).
	VM VMSettings

	// AlarmEmail, when set, subscribes that address to the alarm topic
	// ("alarmEmail").
	AlarmEmail string
}

// ClientFleet sizes the Nomad client Auto Scaling group.
type ClientFleet struct {
	// InstanceType ("nomadClientInstanceType", default m5.2xlarge: 8 vCPU /
	// 32 GiB, of which 2 vCPU / 4 GiB are reserved for coordination).
	InstanceType string
	// Min and Max are the group's bounds outside working hours
	// ("nomadClientMin" default 1, "nomadClientMax" default 10).
	Min, Max int
	// WorkingMin is the floor during working hours ("nomadClientWorkingMin",
	// default Min: no schedule).
	WorkingMin int
	// WorkingHoursStart and WorkingHoursEnd are cron expressions, in
	// TimeZone, when WorkingMin starts and ends
	// ("nomadClientWorkingHoursStart" default "0 8 * * 1-5",
	// "nomadClientWorkingHoursEnd" default "0 19 * * 1-5").
	WorkingHoursStart, WorkingHoursEnd string
	// TimeZone of the schedule ("nomadClientTimeZone", default "UTC").
	TimeZone string
	// DemandScaling adds step scaling on the work waiting for a client (run
	// queue depth + Nomad jobs pending), within the floor above and Max
	// ("nomadClientDemandScaling", default false). With nomadClientMin 0 the
	// fleet is empty at night; the working-hours floor brings it back before
	// the first build of the day.
	DemandScaling bool
	// TasksPerClient is how many waiting tasks one more client absorbs,
	// which sizes the scale-out steps ("nomadClientTasksPerClient", default
	// 3: medium builds on m5.2xlarge's 6 free vCPU).
	TasksPerClient int
	// SSHCidr may reach SSH into builds on the clients' ports 64535–65535
	// ("buildSshCidr", e.g. the VPN's range; default "": no rule, so only
	// what already reaches the clients' security group can connect).
	SSHCidr string
	// ScaleInMinutes is how long nothing may wait before clients are
	// removed, one at a time ("nomadClientScaleInMinutes", default 30).
	ScaleInMinutes int
}

// LDAPSettings are the Management Console's LDAP fields; the search
// password lives in a Secrets Manager secret.
type LDAPSettings struct {
	// Flavor is "openldap" or "ad" ("ldapFlavor", default openldap).
	Flavor string
	// URL is ldap[s]://host:port ("ldapUrl", required).
	URL string
	// StartTLS upgrades a plain ldap:// connection ("ldapStartTls").
	StartTLS bool
	// SearchUser is the bind DN ("ldapSearchUser", required).
	SearchUser string
	// PasswordSecretArn holds the search password ("ldapPasswordSecretArn";
	// "" creates an empty secret to fill).
	PasswordSecretArn string
	// UserSearchDN ("ldapUserSearchDn", required), UsernameAttribute
	// ("ldapUsernameAttribute", default mail), GroupMembership
	// ("ldapGroupMembership", default uniqueMember / member for ad),
	// GroupObjectClass ("ldapGroupObjectClass", default groupOfUniqueNames /
	// group for ad).
	UserSearchDN, UsernameAttribute, GroupMembership, GroupObjectClass string
}

// VMSettings configure the EC2 VMs of machine and remote Docker jobs.
type VMSettings struct {
	// AMI is a custom image ("vmAmi", default: the region's Ubuntu 24.04).
	AMI string
	// InstanceType of machine jobs ("vmInstanceType", default m5.large).
	InstanceType string
	// PreallocatedMachine and PreallocatedRemoteDocker keep that many VMs
	// running ahead of demand ("vmPreallocatedMachine",
	// "vmPreallocatedRemoteDocker", default 0; must be 0 for Docker Layer
	// Caching, as in the seed).
	PreallocatedMachine, PreallocatedRemoteDocker int
	// PublicAccess gives VMs a public address and SSH from anywhere
	// ("vmPublicAccess", default false: private addresses only).
	PublicAccess bool
}

// ContextReader reads one context value; awscdk.App's Node().TryGetContext
// fits through contextOf.
type ContextReader func(key string) (any, bool)

var (
	nameRE         = regexp.MustCompile(`^[a-z][a-z0-9-]{1,19}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	accountRE      = regexp.MustCompile(`^\d{12}$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	vpcRE          = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetRE       = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	azRE           = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$`)
	domainRE       = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	acmArnRE       = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$`)
	secretArnRE    = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$`)
	amiRE          = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	emailRE        = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	// cronRE: five fields (minute hour day-of-month month day-of-week), as
	// Auto Scaling scheduled actions take them.
	cronRE = regexp.MustCompile(`^\S+ \S+ \S+ \S+ \S+$`)
)

// SettingsFromContext reads and validates every setting. env supplies the
// defaults CDK puts in the environment (CDK_DEFAULT_REGION,
// CDK_DEFAULT_ACCOUNT). The error lists every bad key, each with what was
// wrong, so one failed synth shows them all.
func SettingsFromContext(ctx ContextReader, env func(string) string) (Settings, error) {
	r := reader{ctx: ctx}
	s := Settings{
		Name:                    r.str("name", "orbit"),
		Region:                  r.str("region", env("CDK_DEFAULT_REGION")),
		Account:                 r.str("account", env("CDK_DEFAULT_ACCOUNT")),
		VpcID:                   r.str("vpcId", ""),
		PrivateSubnetIDs:        r.list("privateSubnetIds"),
		AvailabilityZones:       r.list("availabilityZones"),
		MaxAZs:                  r.int("maxAzs", 2),
		NatGateways:             r.int("natGateways", 1),
		Domain:                  r.str("domain", ""),
		CertificateArn:          r.str("certificateArn", ""),
		NomadServerInstanceType: r.str("nomadServerInstanceType", "t3.small"),
		BridgeInstanceType:      r.str("bridgeInstanceType", "t3.small"),
		RetentionDays:           r.int("retentionDays", 30),
		AuditRetentionDays:      r.int("auditRetentionDays", 365),
		GitHubURL:               r.str("githubUrl", "https://github.com"),
		GitHubSecretArn:         r.str("githubSecretArn", ""),
		Auth:                    r.str("auth", "github"),
		MetricsNamespace:        r.str("metricsNamespace", "Orbit"),
		HTTPProxy:               r.str("httpProxy", ""),
		NoProxy:                 r.str("noProxy", ""),
		WarmAgents:              r.int("warmAgents", 1),
		AlarmEmail:              r.str("alarmEmail", ""),
	}
	c := &s.NomadClients
	c.InstanceType = r.str("nomadClientInstanceType", "m5.2xlarge")
	c.Min = r.int("nomadClientMin", 1)
	c.Max = r.int("nomadClientMax", 10)
	c.WorkingMin = r.int("nomadClientWorkingMin", c.Min)
	c.WorkingHoursStart = r.str("nomadClientWorkingHoursStart", "0 8 * * 1-5")
	c.WorkingHoursEnd = r.str("nomadClientWorkingHoursEnd", "0 19 * * 1-5")
	c.TimeZone = r.str("nomadClientTimeZone", "UTC")
	c.DemandScaling = r.bool("nomadClientDemandScaling", false)
	c.TasksPerClient = r.int("nomadClientTasksPerClient", 3)
	c.ScaleInMinutes = r.int("nomadClientScaleInMinutes", 30)
	c.SSHCidr = r.str("buildSshCidr", "")

	v := &s.VM
	v.AMI = r.str("vmAmi", "")
	v.InstanceType = r.str("vmInstanceType", "m5.large")
	v.PreallocatedMachine = r.int("vmPreallocatedMachine", 0)
	v.PreallocatedRemoteDocker = r.int("vmPreallocatedRemoteDocker", 0)
	v.PublicAccess = r.bool("vmPublicAccess", false)

	if s.Auth == "ldap" {
		l := &s.LDAP
		l.Flavor = r.str("ldapFlavor", "openldap")
		ad := l.Flavor == "ad"
		l.URL = r.str("ldapUrl", "")
		l.StartTLS = r.bool("ldapStartTls", false)
		l.SearchUser = r.str("ldapSearchUser", "")
		l.PasswordSecretArn = r.str("ldapPasswordSecretArn", "")
		l.UserSearchDN = r.str("ldapUserSearchDn", "")
		l.UsernameAttribute = r.str("ldapUsernameAttribute", "mail")
		l.GroupMembership = r.str("ldapGroupMembership", pick(ad, "member", "uniqueMember"))
		l.GroupObjectClass = r.str("ldapGroupObjectClass", pick(ad, "group", "groupOfUniqueNames"))
	}
	s.validate(&r)
	if len(r.errs) > 0 {
		return Settings{}, fmt.Errorf("orbit infra settings (cdk context):\n  %w", joinLines(r.errs))
	}
	return s, nil
}

func (s *Settings) validate(r *reader) {
	check := r.check
	check("name", nameRE.MatchString(s.Name), "%q must be 2-20 of a-z, 0-9, '-', starting with a letter", s.Name)
	check("region", regionRE.MatchString(s.Region), "%q is not an AWS region (set -c region=… or CDK_DEFAULT_REGION)", s.Region)
	check("account", s.Account == "" || accountRE.MatchString(s.Account), "%q is not a 12-digit account id", s.Account)
	if s.VpcID != "" {
		check("vpcId", vpcRE.MatchString(s.VpcID), "%q is not a VPC id (vpc-…)", s.VpcID)
		check("privateSubnetIds", len(s.PrivateSubnetIDs) >= 2, "an existing VPC needs at least two private subnets with egress, comma-separated")
		for _, id := range s.PrivateSubnetIDs {
			check("privateSubnetIds", subnetRE.MatchString(id), "%q is not a subnet id (subnet-…)", id)
		}
		check("availabilityZones", len(s.AvailabilityZones) >= 2 && len(s.AvailabilityZones) == len(s.PrivateSubnetIDs), "needs one zone per private subnet, comma-separated (%d subnets, %d zones)", len(s.PrivateSubnetIDs), len(s.AvailabilityZones))
		for _, az := range s.AvailabilityZones {
			check("availabilityZones", azRE.MatchString(az), "%q is not an availability zone", az)
		}
	} else {
		check("privateSubnetIds", len(s.PrivateSubnetIDs) == 0, "is only read with vpcId")
		check("maxAzs", s.MaxAZs >= 2 && s.MaxAZs <= 6, "%d must be 2..6 (three Nomad servers spread over zones)", s.MaxAZs)
		check("natGateways", s.NatGateways >= 1 && s.NatGateways <= s.MaxAZs, "%d must be 1..maxAzs (%d): builds need outbound access", s.NatGateways, s.MaxAZs)
	}
	switch {
	case s.Domain == "" && s.CertificateArn != "":
		check("domain", false, "is required with certificateArn")
	case s.Domain != "":
		check("domain", domainRE.MatchString(s.Domain), "%q is not a lower-case DNS name", s.Domain)
		check("certificateArn", acmArnRE.MatchString(s.CertificateArn), "%q must be the ACM certificate ARN of domain %s", s.CertificateArn, s.Domain)
	}
	c := s.NomadClients
	for key, t := range map[string]string{
		"nomadClientInstanceType": c.InstanceType, "nomadServerInstanceType": s.NomadServerInstanceType,
		"bridgeInstanceType": s.BridgeInstanceType, "vmInstanceType": s.VM.InstanceType,
	} {
		check(key, instanceTypeRE.MatchString(t), "%q is not an EC2 instance type (e.g. m5.2xlarge)", t)
	}
	check("nomadClientMin", c.Min >= 0, "%d must be ≥ 0", c.Min)
	check("nomadClientMax", c.Max >= 1 && c.Max >= c.Min, "%d must be ≥ 1 and ≥ nomadClientMin (%d)", c.Max, c.Min)
	check("nomadClientWorkingMin", c.WorkingMin >= c.Min && c.WorkingMin <= c.Max, "%d must be within nomadClientMin..nomadClientMax (%d..%d)", c.WorkingMin, c.Min, c.Max)
	check("nomadClientWorkingHoursStart", cronRE.MatchString(c.WorkingHoursStart), "%q must be a five-field cron expression", c.WorkingHoursStart)
	check("nomadClientWorkingHoursEnd", cronRE.MatchString(c.WorkingHoursEnd), "%q must be a five-field cron expression", c.WorkingHoursEnd)
	check("nomadClientTasksPerClient", c.TasksPerClient >= 1, "%d must be ≥ 1", c.TasksPerClient)
	if c.SSHCidr != "" {
		_, ipnet, err := net.ParseCIDR(c.SSHCidr)
		check("buildSshCidr", err == nil && ipnet.String() == c.SSHCidr && c.SSHCidr != "0.0.0.0/0",
			"%q must be an IPv4 network such as 10.8.0.0/16 (not 0.0.0.0/0: builds hold secrets)", c.SSHCidr)
	}
	check("nomadClientScaleInMinutes", c.ScaleInMinutes >= 5 && c.ScaleInMinutes <= 1440, "%d must be 5..1440", c.ScaleInMinutes)
	_, tzErr := time.LoadLocation(c.TimeZone)
	check("nomadClientTimeZone", tzErr == nil && c.TimeZone != "", "%q is not an IANA time zone", c.TimeZone)
	check("retentionDays", s.RetentionDays >= 1 && s.RetentionDays <= 3650, "%d must be 1..3650", s.RetentionDays)
	check("auditRetentionDays", s.AuditRetentionDays >= s.RetentionDays && s.AuditRetentionDays <= 3650, "%d must be retentionDays (%d)..3650", s.AuditRetentionDays, s.RetentionDays)
	u, err := url.Parse(s.GitHubURL)
	check("githubUrl", err == nil && u.Scheme == "https" && u.Host != "" && u.RawQuery == "", "%q must be https://github.com or your GitHub Enterprise https URL", s.GitHubURL)
	check("githubSecretArn", s.GitHubSecretArn == "" || secretArnRE.MatchString(s.GitHubSecretArn), "%q is not a Secrets Manager secret ARN", s.GitHubSecretArn)
	check("auth", s.Auth == "github" || s.Auth == "ldap", "%q must be github or ldap", s.Auth)
	if s.Auth == "ldap" {
		l := s.LDAP
		check("ldapFlavor", l.Flavor == "openldap" || l.Flavor == "ad", "%q must be openldap or ad", l.Flavor)
		lu, err := url.Parse(l.URL)
		check("ldapUrl", err == nil && (lu.Scheme == "ldap" || lu.Scheme == "ldaps") && lu.Host != "", "%q must be ldap://host:port or ldaps://host:port", l.URL)
		check("ldapStartTls", !(l.StartTLS && err == nil && lu.Scheme == "ldaps"), "is for ldap:// URLs; ldaps:// is already encrypted")
		check("ldapSearchUser", strings.Contains(l.SearchUser, "="), "%q must be a DN such as cn=admin,dc=example,dc=org", l.SearchUser)
		check("ldapUserSearchDn", strings.Contains(l.UserSearchDN, "="), "%q must be a DN such as ou=users,dc=example,dc=org", l.UserSearchDN)
		check("ldapPasswordSecretArn", l.PasswordSecretArn == "" || secretArnRE.MatchString(l.PasswordSecretArn), "%q is not a Secrets Manager secret ARN", l.PasswordSecretArn)
		for key, v := range map[string]string{"ldapUsernameAttribute": l.UsernameAttribute, "ldapGroupMembership": l.GroupMembership, "ldapGroupObjectClass": l.GroupObjectClass} {
			check(key, regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`).MatchString(v), "%q is not an LDAP attribute name", v)
		}
	}
	check("metricsNamespace", s.MetricsNamespace != "" && !strings.HasPrefix(s.MetricsNamespace, "AWS/") && len(s.MetricsNamespace) <= 255, "%q must be 1-255 characters, not starting with AWS/", s.MetricsNamespace)
	if s.HTTPProxy != "" {
		pu, err := url.Parse(s.HTTPProxy)
		check("httpProxy", err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "", "%q must be http://host:port", s.HTTPProxy)
	}
	check("warmAgents", s.WarmAgents >= 0 && s.WarmAgents <= 100, "%d must be 0..100", s.WarmAgents)
	check("vmAmi", s.VM.AMI == "" || amiRE.MatchString(s.VM.AMI), "%q is not an AMI id (ami-…)", s.VM.AMI)
	check("vmPreallocatedMachine", s.VM.PreallocatedMachine >= 0 && s.VM.PreallocatedMachine <= 50, "%d must be 0..50", s.VM.PreallocatedMachine)
	check("vmPreallocatedRemoteDocker", s.VM.PreallocatedRemoteDocker >= 0 && s.VM.PreallocatedRemoteDocker <= 50, "%d must be 0..50", s.VM.PreallocatedRemoteDocker)
	check("alarmEmail", s.AlarmEmail == "" || emailRE.MatchString(s.AlarmEmail), "%q is not an e-mail address", s.AlarmEmail)
}

// reader reads typed context values, collecting errors instead of stopping
// at the first.
type reader struct {
	ctx  ContextReader
	errs []error
}

func (r *reader) check(key string, ok bool, format string, args ...any) {
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
}

func (r *reader) raw(key string) (string, bool) {
	v, ok := r.ctx(key)
	if !ok || v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	default:
		return fmt.Sprint(v), true
	}
}

func (r *reader) str(key, def string) string {
	if v, ok := r.raw(key); ok {
		return v
	}
	return def
}

func (r *reader) int(key string, def int) int {
	v, ok := r.raw(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.check(key, false, "%q is not a whole number", v)
		return def
	}
	return n
}

func (r *reader) bool(key string, def bool) bool {
	v, ok := r.raw(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.check(key, false, "%q must be true or false", v)
		return def
	}
	return b
}

func (r *reader) list(key string) []string {
	v, ok := r.raw(key)
	if !ok || v == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// joinLines joins errors one per line, sorted, indented under the heading.
func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	sort.Strings(msgs) // by key: checks over maps come in any order
	return errors.New(strings.Join(msgs, "\n  "))
}
