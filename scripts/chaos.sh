#!/usr/bin/env bash
# make chaos: the chaos drills (cmd/orbit/chaos_test.go) against the same
# services make test starts, with their figures written to docs/CHAOS.md.
# Not part of make test: the drills take about ten minutes and load the
# machine. Sizes can be shrunk for a slow machine (the report says what ran):
#   ORBIT_CHAOS_JOBS=100 ORBIT_CHAOS_SOAK_JOBS=10000 ORBIT_CHAOS_STORM=500 make chaos
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
report="$(mktemp /tmp/orbit-chaos.XXXXXX.md)"
trap 'rm -f "$report"' EXIT
set +e
ORBIT_CHAOS=1 ORBIT_CHAOS_REPORT="$report" \
  TESTARGS="-count 1 -timeout 80m -v -run ^TestChaos ./cmd/orbit" ./scripts/test.sh
rc=$?
set -e
{
  cat <<'MD'
# Chaos drills

Written by `make chaos` (scripts/chaos.sh): each drill of `cmd/orbit/chaos_test.go` breaks part
of the embedded shape on purpose while real pipelines run on a real Nomad 1.6.0 agent, and
asserts that nothing is lost, nothing is stuck and every status is true. The figures below are
from the last run on the reference machine (2 vCPU, 24 GiB), which other work may have shared.
MD
  echo
  echo "Last run: $(date -u '+%Y-%m-%d %H:%M UTC'), exit status $rc."
  cat "$report"
} > docs/CHAOS.md
echo "figures written to docs/CHAOS.md"
exit "$rc"
