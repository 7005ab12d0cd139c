package insights

import "encoding/json"

// Credits-equivalent: what a run would have cost in CircleCI cloud
// credits, so teams compare Orbit's figures with the ones they know. A job
// uses rate(executor, resource class) credits per minute on each of its
// parallel tasks:
//
//	credits = rate × duration in minutes × parallelism
//
// (per second, not rounded up to whole minutes as CircleCI bills; the
// figures Insights answers are rounded to integers only at the end). A
// workflow's credits are the sum of its jobs'. The rates are CircleCI
// cloud's per-minute credit prices for each resource class, and all but
// one are estimates: only docker (and Linux machine) medium's 10 credits a
// minute was checked, against stored copies of circleci.com/pricing/ and
// CircleCI's support article on partial minutes (copies without a capture
// date). The others are CircleCI's price list (circleci.com/pricing/
// price-list/, "Docker", "Linux VM" and "macOS" tables) as the authors
// knew it in 2024–2025, not re-read since: CircleCI changes them, so treat
// a credits figure as an estimate in CircleCI's unit, not a bill. A class
// not in the table costs its executor's default class (docker medium,
// machine medium, macos m2pro.medium); approval jobs cost nothing.
var creditRates = map[string]map[string]float64{
	"docker": {
		"small": 5, "medium": 10, "medium+": 15, "large": 20, "xlarge": 40, "2xlarge": 80, "2xlarge+": 100,
		"arm.medium": 10, "arm.large": 20, "arm.xlarge": 40, "arm.2xlarge": 80,
	},
	"machine": {
		"medium": 10, "large": 20, "xlarge": 40, "2xlarge": 80, "2xlarge+": 120,
		"arm.medium": 10, "arm.large": 20, "arm.xlarge": 40, "arm.2xlarge": 80,
	},
	"macos": {"macos.m1.medium.gen1": 150, "macos.m1.large.gen1": 250, "m2pro.medium": 150, "m2pro.large": 300, "m4pro.medium": 200, "m4pro.large": 400},
}

// defaultClass is each executor's class when the config names none (or
// names one the table lacks).
var defaultClass = map[string]string{"docker": "medium", "machine": "medium", "macos": "m2pro.medium"}

// CreditRate is the credits per minute of one task of a job of executor
// type (docker, machine, macos; "" is docker) and resource class.
func CreditRate(executor, class string) float64 {
	if executor == "" {
		executor = "docker"
	}
	rates, ok := creditRates[executor]
	if !ok {
		rates, executor = creditRates["docker"], "docker"
	}
	if r, ok := rates[class]; ok {
		return r
	}
	return rates[defaultClass[executor]]
}

// jobSpec is the part of a job's compiled spec (config.JobInvocation) the
// credits need.
type jobSpec struct {
	Job *struct {
		Executor struct {
			Type          string `json:"type"`
			ResourceClass string `json:"resource_class"`
		} `json:"executor"`
	} `json:"job"`
}

// jobCredits is a job's credits-equivalent for duration seconds.
func jobCredits(spec json.RawMessage, parallelism int, duration float64) float64 {
	var s jobSpec
	if len(spec) > 0 {
		_ = json.Unmarshal(spec, &s) // a spec without an executor costs the default
	}
	if parallelism < 1 {
		parallelism = 1
	}
	ex, class := "", ""
	if s.Job != nil {
		ex, class = s.Job.Executor.Type, s.Job.Executor.ResourceClass
	}
	return CreditRate(ex, class) * duration / 60 * float64(parallelism)
}
