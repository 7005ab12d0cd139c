package testenv

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DockerHostEnv names the test dockerd's address, unix:///path/docker.sock,
// which scripts/docker.sh (start_dockerd) exports.
const DockerHostEnv = "ORBIT_DOCKER_HOST"

// DockerImage is the image scripts/docker.sh imports into the test dockerd
// from Debian's busybox-static (no registry is reachable, so nothing is
// pulled): /bin/busybox, /bin/sh and the applets as links.
const DockerImage = "orbit-test/busybox:latest"

// Docker returns the test dockerd's address (ORBIT_DOCKER_HOST), gated as
// Need is: skipped locally without it, a failure in CI.
func Docker(tb testing.TB) string {
	tb.Helper()
	return Need(tb, DockerHostEnv, "start dockerd (scripts/test.sh does, with scripts/docker.sh)")
}

// RunContainer starts a detached DockerImage container without networking
// (the test dockerd has no bridge) running sh -c script, with the docker
// CLI on host, and removes it when the test ends. Its name is name and a
// unique suffix, so runs with -count and parallel packages do not clash.
// It returns its id.
func RunContainer(tb testing.TB, host, name, script string) string {
	tb.Helper()
	name += "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	out, err := docker(host, "run", "-d", "--network", "none", "--label", "orbit-test=1", "--name", name, DockerImage, "sh", "-c", script)
	if err != nil {
		tb.Fatalf("docker run %s on %s: %v: %s", name, host, err, out)
	}
	id := strings.TrimSpace(out)
	tb.Cleanup(func() {
		if out, err := docker(host, "rm", "-f", id); err != nil {
			tb.Logf("docker rm -f %s: %v: %s", name, err, out)
		}
	})
	return id
}

func docker(host string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
