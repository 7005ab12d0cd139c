#!/usr/bin/env bash
# make localstack-down: stop the containers and delete LocalStack's state.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_docker
compose --profile bridge down --volumes --remove-orphans
rm -rf "$ORBIT_LOCALSTACK_STATE"
