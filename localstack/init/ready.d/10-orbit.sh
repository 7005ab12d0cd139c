#!/bin/bash
# LocalStack runs this inside its container once its services are ready
# (/etc/localstack/init/ready.d). It checks that every service the CDK app
# deploys to is available in this LocalStack image and says plainly which
# is not, so a failing deploy is not the first sign. The stack itself is
# deployed from the host with cdklocal (localstack/up.sh).
set -euo pipefail
need=(dynamodb s3 sqs kms stepfunctions lambda apigateway events scheduler cloudwatch logs iam sts cloudformation)
health=$(curl -fsS http://127.0.0.1:4566/_localstack/health)
missing=()
for s in "${need[@]}"; do
  state=$(printf '%s' "$health" | python3 -c "import json,sys; print(json.load(sys.stdin)['services'].get('$s','absent'))")
  case "$state" in
    available|running) ;;
    *) missing+=("$s ($state)") ;;
  esac
done
if ((${#missing[@]})); then
  echo "orbit: LocalStack lacks services the CDK app needs: ${missing[*]}" >&2
  echo "orbit: API Gateway HTTP APIs need LocalStack's licensed image (LOCALSTACK_AUTH_TOKEN)" >&2
  exit 1
fi
echo "orbit: LocalStack has every service the CDK app needs"
