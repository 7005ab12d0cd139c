# Shared by up.sh, test.sh and down.sh (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LS="$ROOT/localstack"
# State (LocalStack's data, the Linux orbit binary, stack outputs) and the
# work directory the test's git repositories live in; the work directory is
# mounted at the same path into the Lambda and Nomad containers.
export ORBIT_LOCALSTACK_STATE="${ORBIT_LOCALSTACK_STATE:-$LS/.state}"
export ORBIT_LOCALSTACK_WORK="${ORBIT_LOCALSTACK_WORK:-$LS/.state/work}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_REGION:-us-east-1}"
OUTPUTS="$ORBIT_LOCALSTACK_STATE/outputs.json"

die() { echo "localstack: $*" >&2; exit 1; }

# need_docker fails clearly when Docker (and its compose plugin) is absent
# or its daemon does not answer: nothing here can run without it.
need_docker() {
  command -v docker >/dev/null 2>&1 ||
    die "Docker is required (LocalStack and the Nomad agent run in containers) and was not found on PATH; install Docker, or use make test, which runs the AWS shape on moto without Docker"
  docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed): start it and retry"
  docker compose version >/dev/null 2>&1 || die "the Docker Compose plugin is required (docker compose version failed)"
}

compose() { docker compose -f "$LS/compose.yaml" "$@"; }
