#!/usr/bin/env bash
# make localstack-up: start LocalStack and a Nomad agent in Docker, deploy
# Orbit's CDK app into LocalStack with cdklocal, and start `orbit bridge`
# against the deployed stack. Idempotent: a second run redeploys.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_docker
command -v npx >/dev/null 2>&1 || die "Node.js (npx) is required for the CDK CLI"
command -v go >/dev/null 2>&1 || die "Go is required to build orbit and the Lambdas"
mkdir -p "$ORBIT_LOCALSTACK_STATE/bin" "$ORBIT_LOCALSTACK_STATE/localstack" "$ORBIT_LOCALSTACK_WORK"

# orbit for the containers' Linux, on the Docker host's architecture.
arch=$(docker version --format '{{.Server.Arch}}')
echo "localstack: building orbit for linux/$arch"
(cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -o "$ORBIT_LOCALSTACK_STATE/bin/orbit" ./cmd/orbit)
# The Lambda zips the CDK app deploys (bootstrap for provided.al2023 on arm64).
make -C "$ROOT" lambdas

echo "localstack: starting LocalStack and Nomad"
compose up -d --build --wait localstack nomad

# cdklocal is the CDK CLI pointed at LocalStack (npm aws-cdk-local).
cdklocal=(npx --yes --package aws-cdk-local --package aws-cdk cdklocal)
cd "$ROOT/infra"
echo "localstack: bootstrapping and deploying the CDK app"
"${cdklocal[@]}" bootstrap
# ORBIT_CDK_CONTEXT passes extra -c key=value settings to the app.
# shellcheck disable=SC2086
"${cdklocal[@]}" deploy --all --require-approval never --outputs-file "$OUTPUTS" ${ORBIT_CDK_CONTEXT:-}
cd "$ROOT"

# bridge.env: the bridge's settings from the stack's outputs (see README,
# "What the stack must output").
python3 - "$OUTPUTS" "$ORBIT_LOCALSTACK_STATE/bridge.env" <<'PY'
import json, sys
outputs = {}
for stack in json.load(open(sys.argv[1])).values():
    outputs.update(stack)
need = ["ApiUrl", "RunQueueUrl", "TableName", "BucketName", "SecretsKeyId"]
missing = [k for k in need if k not in outputs]
if missing:
    sys.exit("localstack: the stack outputs lack %s (have: %s)" % (", ".join(missing), ", ".join(sorted(outputs))))
# The bridge resolves *.localhost.localstack.cloud through LocalStack's DNS
# (compose.yaml), so the URLs are used as the stack outputs them.
api = outputs["ApiUrl"].rstrip("/")
env = {
    "ORBIT_SHAPE": "aws",
    "AWS_ENDPOINT_URL": "http://localhost.localstack.cloud:4566",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "ORBIT_TABLE": outputs["TableName"],
    "ORBIT_BUCKET": outputs["BucketName"],
    "ORBIT_RUN_QUEUE_URL": outputs["RunQueueUrl"],
    "ORBIT_KMS_KEY_ID": outputs["SecretsKeyId"],
    "ORBIT_RUNNER_URL": api + "/runner/v1",
    "NOMAD_ADDR": "http://10.0.2.21:4646",
    "ORBIT_AGENT_PATH": "/opt/orbit/orbit",
    "ORBIT_LEASE_DURATION": "15s",
    "ORBIT_LEASE_RENEW": "5s",
}
with open(sys.argv[2], "w") as f:
    for k, v in env.items():
        f.write("%s=%s\n" % (k, v))
PY

echo "localstack: starting orbit bridge"
compose --profile bridge up -d --wait bridge
echo "localstack: Orbit is deployed; API at $(python3 -c "import json,sys; d={}; [d.update(s) for s in json.load(open('$OUTPUTS')).values()]; print(d['ApiUrl'])")"
echo "localstack: make localstack-test runs the end-to-end pipeline; make localstack-down stops everything"
