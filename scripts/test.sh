#!/usr/bin/env bash
# Starts the services Orbit's tests need on free loopback ports, runs every
# test (or, with BENCH=1, the benchmarks), and stops the services on exit.
#   moto_server  DynamoDB, SQS (and Step Functions, KMS, … later) emulator
#   nomad        a real Nomad 1.6.0 dev agent with raw_exec (bin/nomad)
#   slapd        a throwaway OpenLDAP with test users and groups (scripts/ldap)
#   chromium     headless, for the browser tests (scripts/browser.sh installs it and axe-core)
#   dockerd      a throwaway Docker engine for the Docker host metrics tests (scripts/docker.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUN="$(mktemp -d /tmp/orbit-test.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # raw_exec tasks of the dev agent may outlive it briefly
  pkill -f "$RUN" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# shellcheck source=scripts/ldap/slapd.sh
source "$ROOT/scripts/ldap/slapd.sh"
# shellcheck source=scripts/browser.sh
source "$ROOT/scripts/browser.sh"
# shellcheck source=scripts/docker.sh
source "$ROOT/scripts/docker.sh"

wait_http() { # url name logfile
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "$2 did not start; its log:" >&2; tail -50 "$3" >&2; exit 1
}

command -v moto_server >/dev/null || { echo "moto_server (moto 5.2.1) is required: pip install 'moto[server]==5.2.1'" >&2; exit 1; }
command -v git >/dev/null || { echo "git is required" >&2; exit 1; }

# The AWS-shape end-to-end test (e2e/awsshape) runs the Lambda bootstraps
# under the Runtime Interface Emulator, both built here.
make --no-print-directory rie lambdas-host
# The official circleci CLI, which cmd/orbit's end-to-end test drives against orbit up.
make --no-print-directory circleci

MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN/moto.log" 2>&1 &
pids+=($!)

NOMAD_HTTP=$(free_port); NOMAD_RPC=$(free_port); NOMAD_SERF=$(free_port)
cat >"$RUN/nomad-ports.hcl" <<HCL
ports {
  http = $NOMAD_HTTP
  rpc  = $NOMAD_RPC
  serf = $NOMAD_SERF
}
HCL
"$ROOT/bin/nomad" agent -dev -bind 127.0.0.1 -data-dir "$RUN/nomad" \
  -config "$ROOT/scripts/nomad-dev.hcl" -config "$RUN/nomad-ports.hcl" >"$RUN/nomad.log" 2>&1 &
pids+=($!)

start_slapd # installs slapd once, exports ORBIT_LDAP_*; stopped with the others
browser_install # chromium and axe-core for the browser tests; exports ORBIT_CHROMIUM, ORBIT_AXE_JS
start_dockerd # installs docker.io once, exports ORBIT_DOCKER_HOST; stopped with the others

wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" moto_server "$RUN/moto.log"
wait_http "http://127.0.0.1:$NOMAD_HTTP/v1/status/leader" nomad "$RUN/nomad.log"
# wait until the client node is ready with raw_exec healthy
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$NOMAD_HTTP/v1/nodes" 2>/dev/null | grep -q '"Status":"ready"'; then break; fi
  sleep 0.5
done

export ORBIT_DYNAMODB_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export ORBIT_SQS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export ORBIT_MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export NOMAD_ADDR="http://127.0.0.1:$NOMAD_HTTP"
export ORBIT_BIN="$ROOT/bin/orbit"
export ORBIT_CIRCLECI_BIN="$ROOT/bin/circleci"
export ORBIT_NOMAD_BIN="$ROOT/bin/nomad"
export ORBIT_RIE_BIN="$ROOT/bin/aws-lambda-rie"
export ORBIT_LAMBDA_HOST_DIR="$ROOT/bin/lambdas-host"
# the reference material beside the clone (real-world configs, CircleCI's OpenAPI
# document); without it, the tests that read it say they were not run (shared/testenv)
if [[ -d "$ROOT/../shared/reference" ]]; then export ORBIT_REFERENCE_DIR="$(cd "$ROOT/../shared/reference" && pwd)"; else echo "no ../shared/reference beside the clone: the reference corpus tests are not run"; fi
echo "services: moto_server :$MOTO_PORT, nomad :$NOMAD_HTTP, slapd $ORBIT_LDAP_URL $ORBIT_LDAP_LDAPS_URL (logs in $RUN)"

# TESTARGS runs a subset against the same services, e.g.
#   TESTARGS="-race -count 20 -run TestX ./nomadbridge" ./scripts/test.sh
if [[ -n "${TESTARGS:-}" ]]; then
  # shellcheck disable=SC2086
  CI="${CI:-true}" go test $TESTARGS
  exit $?
fi

if [[ "${BENCH:-}" == 1 ]]; then
  go test -run '^$' -bench . -benchtime "${BENCHTIME:-1x}" -count "${BENCHCOUNT:-1}" ./... | tee "$RUN/bench.txt"
  exit 0
fi

# The CDK app (infra/, its own Go module): assertion tests on the synthesized
# template, then a real `cdk synth` with the pinned aws-cdk CLI and cdk-nag.
make infra-test
make synth CDK_ARGS="-c region=us-east-1"

go vet ./...
# CI=true turns every service-gated skip into a failure (shared/testenv):
# make test started the services, so a skip would hide a defect.
CI="${CI:-true}" go test -race -timeout 15m -count 1 ./...
