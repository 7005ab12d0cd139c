package agent

import (
	"fmt"
	"strings"

	"github.com/orbit-ci/orbit/shared/runner"
)

// EnvHostDriver tells the agent it runs on the host executor, and with
// which Nomad driver (raw_exec or exec); nomadbridge sets it.
const EnvHostDriver = "ORBIT_HOST_DRIVER"

// hostNotices say plainly, at the top of the job's output, that the job
// runs on the host executor and what of its configuration was therefore
// not honoured: the images of a docker executor, the VM of a machine or
// macos executor.
func hostNotices(spec runner.TaskSpec, driver, host string) []string {
	if driver == "" {
		return nil
	}
	executor := fmt.Sprintf("Orbit host executor (Nomad %s on %s)", driver, host)
	switch spec.Executor {
	case "", "docker":
		if spec.Image == "" {
			return nil
		}
		n := []string{fmt.Sprintf("%s: the image %s was NOT pulled or used; steps run directly on the Nomad client, with its own tools.",
			executor, spec.Image)}
		if len(spec.Images) > 1 {
			var svc []string
			for _, img := range spec.Images[1:] {
				svc = append(svc, img.Image)
			}
			n = append(n, fmt.Sprintf("Orbit: the service containers (%s) were NOT started.", strings.Join(svc, ", ")))
		}
		if len(spec.Images) > 0 && len(spec.Images[0].Command) > 0 {
			n = append(n, fmt.Sprintf("Orbit: the primary image's command (%s) was NOT run.", strings.Join(spec.Images[0].Command, " ")))
		}
		return n
	default:
		image := spec.Image
		if image == "" {
			image = "default"
		}
		return []string{fmt.Sprintf("%s: the %s executor (image %s) needs a VM, and this Orbit has no VM pool; "+
			"steps run directly on the Nomad client instead.", executor, spec.Executor, image)}
	}
}
