package hostmetrics_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/hostmetrics"
)

func TestAgentConfig(t *testing.T) {
	s, err := hostmetrics.AgentConfig(hostmetrics.Options{Namespace: "Orbit/hosts", AutoScaling: true,
		AggregateBy: [][]string{{hostmetrics.ASGDimension}}})
	require.NoError(t, err)
	var cfg struct {
		Metrics struct {
			Namespace   string            `json:"namespace"`
			Append      map[string]string `json:"append_dimensions"`
			Aggregation [][]string        `json:"aggregation_dimensions"`
			Collected   map[string]struct {
				Measurement []string `json:"measurement"`
				Resources   []string `json:"resources"`
			} `json:"metrics_collected"`
		} `json:"metrics"`
	}
	require.NoError(t, json.Unmarshal([]byte(s), &cfg))
	m := cfg.Metrics
	assert.Equal(t, "Orbit/hosts", m.Namespace)
	assert.Equal(t, "${aws:AutoScalingGroupName}", m.Append[hostmetrics.ASGDimension])
	assert.Equal(t, [][]string{{hostmetrics.ASGDimension}}, m.Aggregation)
	// The alarms' names are the agent's <section>_<measurement>.
	for _, name := range []string{hostmetrics.CPUActive, hostmetrics.MemUsed, hostmetrics.DiskUsed} {
		found := false
		for sec, c := range m.Collected {
			for _, meas := range c.Measurement {
				found = found || sec+"_"+meas == name
			}
		}
		assert.True(t, found, "%s is collected", name)
	}
	assert.Equal(t, []string{"/"}, m.Collected["disk"].Resources)

	vm, err := hostmetrics.AgentConfig(hostmetrics.Options{Namespace: "Orbit/vms", DiskPaths: []string{"/", "/var/lib/docker"}})
	require.NoError(t, err)
	assert.Contains(t, vm, `"/var/lib/docker"`)
	assert.NotContains(t, vm, "AutoScalingGroupName")
	_, err = hostmetrics.AgentConfig(hostmetrics.Options{})
	assert.Error(t, err)
}
