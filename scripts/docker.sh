# Sourced by scripts/test.sh: a throwaway dockerd for the Docker host
# metrics tests (shared/hostmetrics/dockerstats, dockermetrics). Needs RUN
# (the run's temp dir) and pids (the array test.sh stops on exit).
#
#   docker_install   installs Debian's docker.io and busybox-static once (as root)
#   start_dockerd    dockerd as root with everything under $RUN/docker: its
#                    socket, data root (vfs: no overlay mounts needed), exec
#                    root and pid file; no bridge and no iptables (containers
#                    run with --network none; containers left over are killed
#                    within a second on exit); imports the test image from
#                    busybox-static (no registry is reachable: nothing is
#                    pulled) and exports ORBIT_DOCKER_HOST
#
# The image's name is shared/testenv's DockerImage.
ORBIT_DOCKER_IMAGE="orbit-test/busybox:latest"

docker_install() {
  if command -v dockerd >/dev/null && command -v docker >/dev/null && [[ -x /bin/busybox ]] \
    && dpkg -s busybox-static >/dev/null 2>&1; then return 0; fi
  if [[ $(id -u) != 0 ]]; then
    echo "docker.io and busybox-static are required for the Docker tests: apt-get install docker.io busybox-static (as root)" >&2
    return 1
  fi
  echo "installing docker.io and busybox-static (Debian packages) for the Docker tests"
  apt-get update -qq
  # No system service is started here: the tests run their own dockerd.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io busybox-static >/dev/null
}

start_dockerd() {
  docker_install
  if [[ $(id -u) != 0 ]]; then
    echo "dockerd must run as root for the Docker tests" >&2
    return 1
  fi
  local dir="$RUN/docker" sock
  mkdir -p "$dir/data" "$dir/exec"
  sock="$dir/docker.sock"
  dockerd -H "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
    --storage-driver vfs --bridge none --iptables=false --ip-masq=false --ip6tables=false --shutdown-timeout 1 \
    >"$dir/dockerd.log" 2>&1 &
  pids+=($!)
  local up=""
  for _ in $(seq 1 120); do
    if curl -fsS --unix-socket "$sock" -o /dev/null http://docker/_ping 2>/dev/null; then up=1; break; fi
    sleep 0.5
  done
  if [[ -z "$up" ]]; then echo "dockerd did not start; its log:" >&2; tail -50 "$dir/dockerd.log" >&2; return 1; fi
  # The test image: busybox-static's binary and a link per applet.
  local root="$dir/image"
  mkdir -p "$root/bin" "$root/tmp" "$root/dev/shm"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$root/bin/$applet"
  done
  tar -C "$root" -cf "$dir/image.tar" . \
    && DOCKER_HOST="unix://$sock" docker import -c 'ENV PATH=/bin' "$dir/image.tar" "$ORBIT_DOCKER_IMAGE" >/dev/null \
    || { echo "docker import of the test image failed; dockerd's log:" >&2; tail -50 "$dir/dockerd.log" >&2; return 1; }
  export ORBIT_DOCKER_HOST="unix://$sock"
}
