#!/usr/bin/env bash
# make localstack-test: deploy (make localstack-up) unless a deployment is
# up, then run the end-to-end pipeline of the AWS shape against it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_docker
if [[ ! -s "$OUTPUTS" ]] || ! compose ps --status running --services 2>/dev/null | grep -qx bridge; then
  "$LS/up.sh"
fi
export ORBIT_LOCALSTACK_OUTPUTS="$OUTPUTS"
cd "$ROOT"
go test -count 1 -timeout 20m -v -run 'TestLocalStack' ./localstack/
