package nomadbridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// warmJob builds the Nomad batch job of one warm agent of class: the same
// host-executor task as a cold job of that class (BuildJob), started as
// `<agent> --warm` with the claim URL, its id and token instead of a task
// token.
func (s JobSpec) warmJob(id, class, pool, claimURL string, secret []byte) *api.Job {
	env := s.agentEnv(runqueue.Message{})
	delete(env, agent.EnvTaskToken)
	env[agent.EnvTaskDir] = "${NOMAD_TASK_DIR}"
	env[agent.EnvWarmClaimURL] = claimURL
	env[agent.EnvWarmID] = id
	env[agent.EnvWarmToken] = warmToken(secret, id)
	env[agent.EnvWarmNode] = "${node.unique.id}"
	// The claim URL's host bypasses the proxy too.
	ProxyEnv{HTTP: s.Proxy.HTTP, HTTPS: s.Proxy.HTTPS, No: env["NO_PROXY"]}.env(claimURL, env)
	task := s.hostTask(env)
	task.Config["args"] = append(task.Config["args"].([]string), "--warm")
	task.Resources = s.resources(ResourceClasses[class])
	task.Meta = map[string]string{"orbit_resource_class": class}
	group := newGroup()
	group.Tasks = []*api.Task{task}
	return s.batchJob(id, map[string]string{MetaWarmClass: class, MetaWarmPool: pool}, group)
}

// warmToken is the token of warm agent id: HMAC-SHA256 of its id.
func warmToken(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("orbit-warm-agent\x00" + id))
	return hex.EncodeToString(m.Sum(nil))
}
