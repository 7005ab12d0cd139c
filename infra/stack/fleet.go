package stack

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"text/template"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/hostmetrics"
)

//go:embed userdata/*.sh
var userdataFS embed.FS

// userdata parses once; ParseFS fails only on a malformed embedded file,
// which every test that builds the stack would show.
var userdata = template.Must(template.ParseFS(userdataFS, "userdata/*.sh"))

// Nomad ports: HTTP API, RPC, Serf gossip.
const (
	nomadHTTP = 4646
	nomadRPC  = 4647
	nomadSerf = 4648
	// joinTagKey tags every Nomad server; clients and the bridge's agents
	// find the servers by it (Nomad's cloud auto-join).
	joinTagKey = "orbit-nomad"
	// hookHeartbeat is the lifecycle hook's timeout; the bridge records a
	// heartbeat every 5 minutes, and the hook's overall limit (100 ×
	// heartbeat, at most 48 h) covers the drain deadline.
	hookHeartbeat = 10 // minutes
	// buildSSHFirst..buildSSHLast are the clients' ports for SSH into
	// builds (the seed's 64535–65535), Nomad's dynamic port range there.
	buildSSHFirst = 64535
	buildSSHLast  = 65535
	// rootVolumeGiB of every instance; clients hold images and workspaces.
	rootVolumeGiB       = 30
	clientRootVolumeGiB = 200
	// vmRootVolumeGiB of machine and remote Docker VMs (DLC volumes are
	// their own).
	vmRootVolumeGiB = 100
)

// fleet is the Nomad cluster and the bridge.
type fleet struct {
	vpc                          awsec2.IVpc
	servers, clients, bridges    awsautoscaling.AutoScalingGroup
	serverSG, clientSG, bridgeSG awsec2.SecurityGroup
	vmSG                         awsec2.SecurityGroup
	vmRole                       awsiam.Role
	vmTemplate                   awsec2.LaunchTemplate
	clientGroupName, hookName    string
	lifecycleQueue               awssqs.Queue
}

func newVpc(st awscdk.Stack, s Settings) awsec2.IVpc {
	if s.VpcID != "" {
		return awsec2.Vpc_FromVpcAttributes(st, jsii.String("Vpc"), &awsec2.VpcAttributes{
			VpcId:             jsii.String(s.VpcID),
			AvailabilityZones: jsii.Strings(s.AvailabilityZones...),
			PrivateSubnetIds:  jsii.Strings(s.PrivateSubnetIDs...),
		})
	}
	vpc := awsec2.NewVpc(st, jsii.String("Vpc"), &awsec2.VpcProps{
		VpcName:     jsii.String(s.Name),
		MaxAzs:      jsii.Number(float64(s.MaxAZs)),
		NatGateways: jsii.Number(float64(s.NatGateways)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(true),
	})
	flowLogs := awslogs.NewLogGroup(st, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{
		Retention:     logRetention(s.RetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
		// Rejected traffic is what an operator looks for; all traffic
		// would cost more in ingestion than the rest of the logs.
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
	})
	return vpc
}

func newFleet(st awscdk.Stack, s Settings, a Artifacts, d *data, f *functions, m machineArns, alarms awssns.ITopic) (*fleet, error) {
	fl := &fleet{vpc: newVpc(st, s)}
	private := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	sg := func(id, desc string) awsec2.SecurityGroup {
		return awsec2.NewSecurityGroup(st, jsii.String(id), &awsec2.SecurityGroupProps{
			Vpc: fl.vpc, Description: jsii.String(desc),
			// Builds clone from GitHub and pull images from anywhere.
			AllowAllOutbound: jsii.Bool(true),
		})
	}
	fl.serverSG = sg("NomadServerSG", "Orbit Nomad servers")
	fl.clientSG = sg("NomadClientSG", "Orbit Nomad clients (builds)")
	fl.bridgeSG = sg("BridgeSG", "Orbit bridge instances")
	fl.vmSG = sg("VmSG", "Orbit machine and remote Docker VMs")
	tcp := func(from, to int) awsec2.Port {
		return awsec2.Port_TcpRange(jsii.Number(float64(from)), jsii.Number(float64(to)))
	}
	for _, peer := range []awsec2.SecurityGroup{fl.serverSG, fl.clientSG, fl.bridgeSG} {
		fl.serverSG.AddIngressRule(peer, tcp(nomadHTTP, nomadSerf), jsii.String("Nomad HTTP, RPC, Serf"), nil)
	}
	fl.clientSG.AddIngressRule(fl.serverSG, tcp(nomadHTTP, nomadRPC), jsii.String("Nomad servers to clients"), nil)
	fl.bridgeSG.AddIngressRule(fl.serverSG, tcp(nomadHTTP, nomadRPC), jsii.String("Nomad servers to the bridge's agent"), nil)
	fl.serverSG.AddIngressRule(fl.serverSG, awsec2.Port_UdpRange(jsii.Number(nomadSerf), jsii.Number(nomadSerf)), jsii.String("Nomad Serf gossip"), nil)
	if s.VM.PublicAccess {
		// Where a machine job rerun with SSH listens on its VM.
		fl.vmSG.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(vmpool.SSHPort)),
			jsii.String("SSH into machine jobs rerun with SSH (vmPublicAccess)"), nil)
	}

	nomadBin := awss3assets.NewAsset(st, jsii.String("NomadBinary"), &awss3assets.AssetProps{Path: jsii.String(a.NomadBinary)})
	orbitBin := awss3assets.NewAsset(st, jsii.String("OrbitBinary"), &awss3assets.AssetProps{Path: jsii.String(a.OrbitBinary)})
	agentBin := awss3assets.NewAsset(st, jsii.String("AgentBinary"), &awss3assets.AssetProps{Path: jsii.String(a.AgentBinary)})

	serverTag := s.Name + "-server"
	fl.clientGroupName = s.Name + "-nomad-clients"
	fl.hookName = "drain"
	agentCfg, err := hostAgentConfig(s)
	if err != nil {
		return nil, err
	}
	vars := map[string]any{
		"HostMetricsPath": hostmetrics.ConfigPath, "HostMetricsConfig": agentCfg,
		"Region": *st.Region(), "HTTPProxy": s.HTTPProxy, "NoProxy": noProxy(s),
		"NomadURL": *nomadBin.S3ObjectUrl(), "OrbitURL": *orbitBin.S3ObjectUrl(), "AgentURL": *agentBin.S3ObjectUrl(),
		"JoinTagKey": joinTagKey, "ServerTag": serverTag,
		"SSHFirstPort": buildSSHFirst, "SSHLastPort": buildSSHLast,
		"HostMetricsNamespace": hostNamespace(s), "ASGDimension": hostmetrics.ASGDimension, "ClientGroupName": fl.clientGroupName,
	}

	var renderErr error
	group := func(id, name, instanceType string, min, max int, script string, sgroup awsec2.SecurityGroup, volGiB int, extra map[string]any) awsautoscaling.AutoScalingGroup {
		role := awsiam.NewRole(st, jsii.String(id+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
			Description: jsii.String("Orbit " + name + " instances"),
			// Session Manager instead of SSH keys and port 22.
			ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore"))},
		})
		nomadBin.GrantRead(role)
		orbitBin.GrantRead(role)
		agentBin.GrantRead(role)
		grantHostMetrics(role, hostNamespace(s), true)
		// go-discover lists instances to find the servers' addresses.
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("ec2:DescribeInstances"), Resources: jsii.Strings("*"),
		}))
		ud := awsec2.UserData_ForLinux(nil)
		for k, v := range extra {
			vars[k] = v
		}
		for _, name := range []string{"common.sh", script} {
			text, err := render(name, vars)
			if err != nil {
				renderErr = errors.Join(renderErr, err)
			}
			ud.AddCommands(jsii.String(text))
		}
		lt := awsec2.NewLaunchTemplate(st, jsii.String(id+"Template"), &awsec2.LaunchTemplateProps{
			InstanceType:       awsec2.NewInstanceType(jsii.String(instanceType)),
			MachineImage:       awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{CpuType: awsec2.AmazonLinuxCpuType_X86_64}),
			UserData:           ud,
			Role:               role,
			SecurityGroup:      sgroup,
			RequireImdsv2:      jsii.Bool(true),
			DetailedMonitoring: jsii.Bool(true),
			BlockDevices: &[]*awsec2.BlockDevice{{
				DeviceName: jsii.String("/dev/xvda"),
				Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(float64(volGiB)), &awsec2.EbsDeviceOptions{
					Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3, DeleteOnTermination: jsii.Bool(true),
				}),
			}},
		})
		asg := awsautoscaling.NewAutoScalingGroup(st, jsii.String(id), &awsautoscaling.AutoScalingGroupProps{
			AutoScalingGroupName: jsii.String(name),
			Vpc:                  fl.vpc,
			VpcSubnets:           private,
			LaunchTemplate:       lt,
			MinCapacity:          jsii.Number(float64(min)),
			MaxCapacity:          jsii.Number(float64(max)),
			Notifications:        &[]*awsautoscaling.NotificationConfiguration{{Topic: alarms}},
			GroupMetrics:         &[]awsautoscaling.GroupMetrics{awsautoscaling.GroupMetrics_All()},
		})
		return asg
	}

	fl.servers = group("NomadServers", s.Name+"-nomad-servers", s.NomadServerInstanceType, 3, 3, "server.sh", fl.serverSG, rootVolumeGiB, nil)
	awscdk.Tags_Of(fl.servers).Add(jsii.String(joinTagKey), jsii.String(serverTag), &awscdk.TagProps{ApplyToLaunchedInstances: jsii.Bool(true)})

	c := s.NomadClients
	fl.clients = group("NomadClients", fl.clientGroupName, c.InstanceType, c.Min, c.Max, "client.sh", fl.clientSG, clientRootVolumeGiB, nil)
	newScaleIn(st, s, d, fl)
	scaleClients(st, s, d, fl)
	if c := s.NomadClients.SSHCidr; c != "" {
		fl.clientSG.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(c)), tcp(buildSSHFirst, buildSSHLast),
			jsii.String("SSH into builds (rerun with SSH) from buildSshCidr"), nil)
	}

	fl.vmRole = awsiam.NewRole(st, jsii.String("VmRole"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description:     jsii.String("Orbit machine and remote Docker VMs: Session Manager only"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore"))},
	})
	grantHostMetrics(fl.vmRole, vmNamespace(s), false)
	vmProfile := awsiam.NewInstanceProfile(st, jsii.String("VmProfile"), &awsiam.InstanceProfileProps{Role: fl.vmRole})
	// The VM pool's launch template (nomadbridge/vmpool/ec2pool): the pool
	// sets the AMI, instance type, subnet, user data and tags per lease, and
	// the security groups on the VM's network interface (a template's own
	// groups would conflict with them).
	fl.vmTemplate = awsec2.NewLaunchTemplate(st, jsii.String("VmTemplate"), &awsec2.LaunchTemplateProps{
		LaunchTemplateName: jsii.String(vmTemplateName(s)),
		InstanceProfile:    vmProfile,
		RequireImdsv2:      jsii.Bool(true),
		DetailedMonitoring: jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/sda1"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(vmRootVolumeGiB), &awsec2.EbsDeviceOptions{
				Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3, DeleteOnTermination: jsii.Bool(true),
			}),
		}},
	})

	env := environment(s, d, m)
	env[EnvRunnerURL] = jsii.String(*f.url + "/runner/v1")
	env[EnvNomadAddr] = jsii.String(fmt.Sprintf("http://127.0.0.1:%d", nomadHTTP))
	env[EnvAgentPath] = jsii.String("/usr/local/bin/orbit-agent")
	env[EnvVMSubnets] = awscdk.Fn_Join(jsii.String(","), vmSubnetIDs(s, fl.vpc))
	env[EnvVMHostMetrics] = jsii.String(vmNamespace(s))
	if s.VM.PublicAccess {
		env[EnvVMSSHGroup] = fl.vmSG.SecurityGroupId()
	}
	env[EnvVMSecGroup] = fl.vmSG.SecurityGroupId()
	env[EnvVMProfile] = vmProfile.InstanceProfileArn()
	env[EnvVMAMI] = jsii.String(s.VM.AMI)
	env[EnvVMTemplate] = jsii.String(vmTemplateName(s))
	env[EnvVMPool] = jsii.String("ec2")
	env[EnvVMType] = jsii.String(s.VM.InstanceType)
	env[EnvVMPreMachine] = jsii.String(strconv.Itoa(s.VM.PreallocatedMachine))
	env[EnvVMPreDocker] = jsii.String(strconv.Itoa(s.VM.PreallocatedRemoteDocker))
	env[EnvVMPublic] = jsii.String(strconv.FormatBool(s.VM.PublicAccess))
	env[EnvLifecycleQueueURL] = fl.lifecycleQueue.QueueUrl()
	lines := make([]string, 0, len(env))
	for k, v := range env {
		lines = append(lines, k+"="+*v)
	}
	sort.Strings(lines)
	fl.bridges = group("Bridges", s.Name+"-bridges", s.BridgeInstanceType, 2, 2, "bridge.sh", fl.bridgeSG, rootVolumeGiB,
		map[string]any{"BridgeEnv": lines})
	grantBridge(st, s, d, fl)
	grantScaleIn(st, fl)
	if renderErr != nil {
		return nil, renderErr
	}
	return fl, nil
}

// vmTemplateName names the VM pool's launch template.
func vmTemplateName(s Settings) string { return s.Name + "-vm" }

// vmSubnetIDs are where VMs start: public subnets when they are public
// (vmPublicAccess) in a VPC this stack made, else the private ones.
func vmSubnetIDs(s Settings, vpc awsec2.IVpc) *[]*string {
	if s.VM.PublicAccess && s.VpcID == "" {
		return vpc.SelectSubnets(&awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}).SubnetIds
	}
	return subnetIDs(vpc)
}

func subnetIDs(vpc awsec2.IVpc) *[]*string {
	return vpc.SelectSubnets(&awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}).SubnetIds
}

// grantBridge: consume the run queue (and read both queues' depths), the
// store (the bridge's lease and task records), its metrics namespace, and
// the VM pool's EC2 calls on resources tagged with this installation.
func grantBridge(st awscdk.Stack, s Settings, d *data, fl *fleet) {
	role := fl.bridges.Role()
	d.runQueue.GrantConsumeMessages(role)
	d.deadLetter.Grant(role, jsii.String("sqs:GetQueueAttributes"))
	d.table.GrantReadWriteData(role)
	d.signing.GrantRead(role, nil)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"), // PutMetricData takes no resource; the namespace is the condition
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": s.MetricsNamespace}},
	}))
	tag := "aws:ResourceTag/orbit:installation"
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("ec2:RunInstances", "ec2:CreateVolume", "ec2:CreateNetworkInterface", "ec2:CreateTags"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:RequestTag/orbit:installation": s.Name}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// RunInstances also names the image, subnet, security group and
		// key resources, which carry no request tag.
		Actions: jsii.Strings("ec2:RunInstances"),
		Resources: jsii.Strings(
			*st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Account: jsii.String(""), Resource: jsii.String("image"), ResourceName: jsii.String("*")}),
			*st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("subnet"), ResourceName: jsii.String("*")}),
			*st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("security-group"), ResourceName: fl.vmSG.SecurityGroupId()}),
			*st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("network-interface"), ResourceName: jsii.String("*")}),
		),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// Leases are the instances' tags (ec2pool): tag, start a warm VM with
		// its task's user data, attach the project's DLC volume, terminate;
		// only on resources that carry this installation's tag.
		Actions: jsii.Strings("ec2:TerminateInstances", "ec2:AttachVolume", "ec2:DetachVolume", "ec2:DeleteVolume", "ec2:StopInstances",
			"ec2:StartInstances", "ec2:ModifyInstanceAttribute", "ec2:DescribeInstanceAttribute", "ec2:CreateTags", "ec2:DeleteTags",
			"ec2:DeleteNetworkInterface"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{tag: s.Name}},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ec2:RunInstances"),
		Resources: jsii.Strings(*st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("launch-template"), ResourceName: fl.vmTemplate.LaunchTemplateId()})),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// A remote Docker engine's interface is made before its VM
		// (ec2pool/remotedocker.go), in a VM subnet with the VMs' group.
		Actions: jsii.Strings("ec2:CreateNetworkInterface"),
		Resources: jsii.Strings(
			*st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("subnet"), ResourceName: jsii.String("*")}),
			*st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("security-group"), ResourceName: fl.vmSG.SecurityGroupId()}),
		),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeImages", "ec2:DescribeInstanceStatus",
			"ec2:DescribeSubnets", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"),
		Resources: jsii.Strings("*"), // Describe* take no resource-level permissions
	}))
	fl.vmRole.GrantPassRole(role)
}

// render executes one user-data template; missing variables are errors.
func render(name string, vars map[string]any) (string, error) {
	var b bytes.Buffer
	if err := userdata.Option("missingkey=error").ExecuteTemplate(&b, name, vars); err != nil {
		return "", fmt.Errorf("user data %s: %w", name, err)
	}
	return b.String(), nil
}
