// Package metrics is Orbit's metrics port: services record gauges (the
// current value of something) and counts (how many times something
// happened since the last report), named as CircleCI Server names them
// (circle.nomad.server_agent.jobs.running, …) with optional dimensions.
// Drivers: CloudWatch in AWS (PutMetricData from the bridge, EMF from the
// Lambdas) and memmetrics in the embedded shape, which serves the latest
// values as text on the API's GET /metrics.
//
// Contract: Gauge replaces the series' value; Count adds to it; a series
// is its name plus its dimensions, in any order. Recording never blocks on
// the network for long and never fails the caller's work: drivers buffer
// and report errors through their own logs. Methods are safe for
// concurrent use.
package metrics

// Dimension qualifies a series, e.g. {Name: "queue", Value: "run"}.
type Dimension struct {
	Name  string
	Value string
}

// Sink records metrics.
type Sink interface {
	Gauge(name string, value float64, dims ...Dimension)
	Count(name string, delta float64, dims ...Dimension)
}

// Discard is a Sink that records nothing.
var Discard Sink = discard{}

type discard struct{}

func (discard) Gauge(string, float64, ...Dimension) {}
func (discard) Count(string, float64, ...Dimension) {}

// Names of the Nomad metrics the bridge reports, as CircleCI Server's
// nomad-metrics container names them.
const (
	// NomadPollFailure is 1 when the last poll of Nomad failed, else 0.
	NomadPollFailure = "circle.nomad.server_agent.poll_failure"
	// NomadJobsPending … NomadJobsDead count the cluster's jobs by status.
	NomadJobsPending  = "circle.nomad.server_agent.jobs.pending"
	NomadJobsRunning  = "circle.nomad.server_agent.jobs.running"
	NomadJobsComplete = "circle.nomad.server_agent.jobs.complete"
	NomadJobsDead     = "circle.nomad.server_agent.jobs.dead"
)
