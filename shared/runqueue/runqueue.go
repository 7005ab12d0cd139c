// Package runqueue defines the run-queue message: the contract between the
// job state machine's Dispatch task (the producer, in the conductor) and
// nomadbridge (the consumer), which turns each message into one Nomad batch
// job.
//
// Delivery is at least once. The bridge deletes a message only after Nomad
// accepted the job (or the task is already terminal), so a crash between
// receive and register redelivers it. Registering is idempotent: the Nomad job
// ID is derived from the task (NomadJobID) and the task ID is kept in the job's
// meta, so a redelivered message for a job Nomad already has is a no-op.
// Messages are small (< 4 KiB): everything large is fetched by the build agent
// through the runner API with Token.
package runqueue

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Version is the message schema version; consumers refuse unknown versions.
const Version = 1

// Message asks the bridge to run one task (one parallel node of one job).
type Message struct {
	Version int `json:"version"`
	// TaskID identifies the task attempt; unique across attempts.
	TaskID string `json:"task_id"`
	// JobID, WorkflowID and PipelineID identify the task's parents (for logs,
	// metrics and the Nomad job's meta).
	JobID      string `json:"job_id"`
	WorkflowID string `json:"workflow_id"`
	PipelineID string `json:"pipeline_id"`
	// ProjectSlug is e.g. "gh/org/repo" or "local/org/repo".
	ProjectSlug string `json:"project_slug"`
	// JobNumber is the project-wide build number of the job.
	JobNumber int64 `json:"job_number"`
	// JobName is the job's name in its workflow.
	JobName string `json:"job_name"`
	// Index is CIRCLE_NODE_INDEX, Total is CIRCLE_NODE_TOTAL.
	Index int `json:"index"`
	Total int `json:"total"`
	// Attempt counts infrastructure retries of the job, from 1.
	Attempt int `json:"attempt"`
	// Executor is the executor type of the config: docker, machine, macos.
	// The bridge chooses the Nomad driver (docker, raw_exec, exec, a VM).
	Executor string `json:"executor"`
	// Image is the primary image (docker) or machine image, as configured.
	Image string `json:"image,omitempty"`
	// ResourceClass is the config's resource_class ("" means medium).
	ResourceClass string `json:"resource_class,omitempty"`
	// DockerLayerCaching is the machine executor's docker_layer_caching:
	// the task's VM gets its project's cache volume.
	DockerLayerCaching bool `json:"docker_layer_caching,omitempty"`
	// Token authenticates the build agent to the runner API for this task
	// only; it expires with the task. Never log it.
	Token string `json:"token"`
}

// Encode returns the message body.
func (m Message) Encode() ([]byte, error) {
	m.Version = Version
	return json.Marshal(m)
}

// Decode parses and checks a message body.
func Decode(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, fmt.Errorf("runqueue: decode message: %w", err)
	}
	if m.Version != Version {
		return Message{}, fmt.Errorf("runqueue: message version %d, want %d", m.Version, Version)
	}
	if m.TaskID == "" || m.PipelineID == "" || m.Token == "" {
		return Message{}, fmt.Errorf("runqueue: message lacks task_id, pipeline_id or token")
	}
	return m, nil
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// NomadJobID is the Nomad job ID for the task, following CircleCI Server's
// scheme `<pipeline-id>-<index>-build-<org>-<repo>-<job-number>`, with the
// attempt appended after the first so that an infrastructure retry is a new
// Nomad job rather than a new version of a dead one.
func (m Message) NomadJobID() string {
	org, repo := "local", "project"
	if parts := strings.Split(m.ProjectSlug, "/"); len(parts) >= 3 {
		org, repo = parts[1], parts[2]
	}
	id := fmt.Sprintf("%s-%d-build-%s-%s-%d", m.PipelineID, m.Index,
		unsafeChars.ReplaceAllString(org, "_"), unsafeChars.ReplaceAllString(repo, "_"), m.JobNumber)
	if m.Attempt > 1 {
		id += fmt.Sprintf("-retry%d", m.Attempt-1)
	}
	return id
}
