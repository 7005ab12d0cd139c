package conductor

import (
	"os"
	"slices"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/runner"
)

// executorSpec fills the task spec's executor: its type, the primary
// image (or machine image), every container of a docker executor (the
// bridge builds the docker job spec from them) and the resource class.
func executorSpec(spec *runner.TaskSpec, e config.Executor) {
	spec.Executor, spec.ResourceClass = e.Type, e.ResourceClass
	spec.Image = e.MachineImage
	if len(e.Images) > 0 {
		spec.Image = e.Images[0].Image
	}
	spec.Images = slices.Clone(e.Images)
}

// resolveAuth expands the variables that registry logins reference
// ("$DOCKERHUB_PASSWORD", "${USER}") from the task's environment, where the
// project's and contexts' variables are, and masks the results in output.
// A reference to an unset variable becomes empty, as in a shell.
func resolveAuth(spec *runner.TaskSpec) {
	env := map[string]string{}
	for _, e := range spec.Environment {
		env[e.Name] = e.Value
	}
	lookup := func(name string) string { return env[name] }
	for i := range spec.Images {
		a := spec.Images[i].Auth
		if a == nil {
			continue
		}
		resolved := runner.RegistryAuth{Username: os.Expand(a.Username, lookup), Password: os.Expand(a.Password, lookup)}
		spec.Images[i].Auth = &resolved
		if resolved.Password != "" && !slices.Contains(spec.Secrets, resolved.Password) {
			spec.Secrets = append(spec.Secrets, resolved.Password)
		}
	}
}
