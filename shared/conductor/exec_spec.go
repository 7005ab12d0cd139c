package conductor

import (
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
	for _, img := range e.Images {
		spec.Images = append(spec.Images, runner.Image{Image: img.Image, Name: img.Name, User: img.User,
			Entrypoint: img.Entrypoint, Command: img.Command, Environment: img.Environment})
	}
}
