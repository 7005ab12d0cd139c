package stack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVMPool: the bridge may manage VMs and DLC volumes only where they
// carry this installation's tag, launch them from the VM launch template,
// and the template asks for IMDSv2 and an encrypted root volume.
func TestVMPool(t *testing.T) {
	var tagScoped, template bool
	for id, p := range ofType("AWS::IAM::Policy") {
		if !strings.HasPrefix(id, "BridgesRole") {
			continue
		}
		for _, st := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			m := st.(map[string]any)
			acts := asList(m["Action"])
			cond, _ := json.Marshal(m["Condition"])
			res, _ := json.Marshal(m["Resource"])
			for _, a := range acts {
				switch a {
				case "ec2:StartInstances", "ec2:ModifyInstanceAttribute", "ec2:TerminateInstances", "ec2:DeleteVolume", "ec2:DeleteTags":
					assert.Contains(t, string(cond), `"aws:ResourceTag/orbit:installation":"orbit"`, "%s only on this installation's resources", a)
					tagScoped = true
				}
			}
			if len(acts) == 1 && acts[0] == "ec2:RunInstances" && strings.Contains(string(res), "launch-template") {
				template = true
			}
		}
	}
	assert.True(t, tagScoped, "the bridge manages tagged VMs")
	assert.True(t, template, "the bridge launches from the VM launch template")

	var vm map[string]any
	for _, lt := range ofType("AWS::EC2::LaunchTemplate") {
		if lt.Properties["LaunchTemplateName"] == "orbit-vm" {
			vm = lt.Properties["LaunchTemplateData"].(map[string]any)
		}
	}
	require.NotNil(t, vm, "the VM launch template")
	b, _ := json.Marshal(vm)
	assert.Contains(t, string(b), `"HttpTokens":"required"`)
	assert.Contains(t, string(b), `"Encrypted":true`)
	assert.Contains(t, string(b), `"IamInstanceProfile"`)
}
