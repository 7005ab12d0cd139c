package nomadtest

import "github.com/hashicorp/nomad/api"

// TrivialJob is the smallest raw_exec batch job (a sleep): the baseline
// that benchmarks compare Orbit's dispatch against.
func TrivialJob(id string) *api.Job {
	return &api.Job{
		ID: ptr(id), Name: ptr(id), Type: ptr(api.JobTypeBatch), Datacenters: []string{"*"},
		TaskGroups: []*api.TaskGroup{{
			Name: ptr("g"), Count: ptr(1),
			RestartPolicy:    &api.RestartPolicy{Attempts: ptr(0), Mode: ptr("fail")},
			ReschedulePolicy: &api.ReschedulePolicy{Attempts: ptr(0), Unlimited: ptr(false)},
			Tasks: []*api.Task{{
				Name: "t", Driver: "raw_exec",
				Config:    map[string]any{"command": "/bin/sleep", "args": []string{"30"}},
				Resources: &api.Resources{CPU: ptr(10), MemoryMB: ptr(32)},
			}},
		}},
	}
}

func ptr[T any](v T) *T { return &v }
