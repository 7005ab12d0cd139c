# Orbit's two commands for a fresh machine: `make run` and `make test`.
GO      ?= go
ARGS    ?=
FUZZTIME ?= 5m

.PHONY: all tools build run test test-short lint fuzz bench chaos clean dist synth deploy infra-test lambdas lambdas-host rie circleci screenshots

all: build

## tools: build Nomad 1.6.0 from the Go module proxy into bin/ (once)
tools: bin/nomad

bin/nomad: scripts/build-nomad.sh
	./scripts/build-nomad.sh

## lambdas: each functions/<name> as bootstrap for provided.al2023 on arm64, zipped into bin/lambdas/<name>.zip
LAMBDAS := $(notdir $(patsubst %/main.go,%,$(wildcard functions/*/main.go)))
lambdas:
	@for f in $(LAMBDAS); do \
	  mkdir -p bin/lambdas/$$f && \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" \
	    -o bin/lambdas/$$f/bootstrap ./functions/$$f && \
	  rm -f bin/lambdas/$$f.zip && (cd bin/lambdas/$$f && python3 -m zipfile -c ../$$f.zip bootstrap) && \
	  echo "bin/lambdas/$$f.zip" || exit 1; \
	done

## lambdas-host: the api and conductor bootstraps (and the bare hello baseline) for this machine's
## architecture, into bin/lambdas-host/<name>/bootstrap: the AWS-shape end-to-end test runs them under aws-lambda-rie
HOST_LAMBDAS := api conductor internal/hello
lambdas-host:
	@for f in $(HOST_LAMBDAS); do \
	  n=$$(basename $$f) && mkdir -p bin/lambdas-host/$$n && \
	  CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o bin/lambdas-host/$$n/bootstrap ./functions/$$f || exit 1; \
	done

## rie: the Lambda Runtime Interface Emulator (runs a bootstrap with a local Invoke API) into bin/
RIE_VERSION ?= v0.0.0-20261030222936-bef5c4ba774d
rie: bin/aws-lambda-rie

bin/aws-lambda-rie:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## circleci: CircleCI's official CLI (v0.1, the one with config/context/orb/diagnostic commands) from the Go
## module proxy into bin/, for the end-to-end test that drives it against orbit up. `go install …@version` does
## not work here: it asks the proxy for the module's version list (to check for a deprecation), which the proxy
## refuses (403) for this module; the exact version downloads, and builds from the module cache with its go.sum.
CIRCLECI_CLI_VERSION ?= v0.1.47860
circleci: bin/circleci

bin/circleci:
	@dir=$$($(GO) mod download -json github.com/CircleCI-Public/circleci-cli@$(CIRCLECI_CLI_VERSION) | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') && \
	  cd "$$dir" && $(GO) build -trimpath -o $(CURDIR)/bin/circleci \
	    -ldflags "-X github.com/CircleCI-Public/circleci-cli/version.Version=$(CIRCLECI_CLI_VERSION:v%=%)" .

## build: the orbit binary and the small build agent (orbit-agent, what Nomad starts per task) into bin/
build:
	$(GO) build -o bin/orbit ./cmd/orbit
	$(GO) build -o bin/orbit-agent ./cmd/orbit-agent

## run: start Orbit's embedded shape (API and UI on http://127.0.0.1:8080)
run: tools build
	./bin/orbit up $(ARGS)

## test: start every service the tests need (moto_server, Nomad), run all tests, stop them
test: tools build
	./scripts/test.sh

## screenshots: the browser scenarios (cmd/orbit/e2e_ui_*_test.go) save the main pages into docs/screenshots
screenshots: tools build
	ORBIT_SCREENSHOTS=$(CURDIR)/docs/screenshots TESTARGS="-count 1 -run ^TestUI ./cmd/orbit" ./scripts/test.sh

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: long fuzzing runs (not part of make test)
fuzz:
	$(GO) test ./shared/config -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME)
	$(GO) test ./shared/vcs/github -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

## bench: benchmarks with the services they need (figures go to docs/PERFORMANCE.md)
bench: tools build
	BENCH=1 ./scripts/test.sh

## dist: orbit (the bridge) and orbit-agent (the build agent) for linux/amd64 into bin/dist/, for AWS instances
dist:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o bin/dist/orbit-linux-amd64 ./cmd/orbit
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o bin/dist/orbit-agent-linux-amd64 ./cmd/orbit-agent

# The aws-cdk CLI, pinned in infra/package-lock.json.
infra/node_modules/.package-lock.json: infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund

CDK_ARGS ?=
CDK_ENV  = CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

## synth: the CloudFormation template into infra/cdk.out (CDK_ARGS="-c region=eu-west-1 -c key=value ...")
synth: tools dist lambdas infra/node_modules/.package-lock.json
	cd infra && $(CDK_ENV) npx cdk synth --quiet --no-notices $(CDK_ARGS)

## deploy: build everything and `cdk deploy` Orbit to the AWS account of your credentials (see README)
deploy: tools dist lambdas infra/node_modules/.package-lock.json
	cd infra && $(CDK_ENV) npx cdk deploy --no-notices $(CDK_ARGS)

## infra-test: the CDK app's assertion tests (its own Go module, so CDK stays out of the main build;
## named packages, not ./..., because infra/node_modules holds Go templates of the aws-cdk CLI)
infra-test:
	cd infra && $(GO) vet . ./stack/... && JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(GO) test -count 1 -timeout 15m . ./stack/...

clean:
	rm -rf bin/orbit bin/orbit-agent bin/dist .orbit infra/cdk.out

## chaos: the chaos drills (kill -9, Nomad outages, replays, soak, redelivery storm) → docs/CHAOS.md
chaos: tools build
	./scripts/chaos.sh

.PHONY: localstack-up localstack-test localstack-down

## localstack-up: deploy Orbit on LocalStack with cdklocal, plus a Nomad agent and orbit bridge (needs Docker; localstack/README.md)
localstack-up:
	./localstack/up.sh

## localstack-test: the end-to-end pipeline on LocalStack (deploys first if needed; needs Docker)
localstack-test:
	./localstack/test.sh

## localstack-down: stop LocalStack, Nomad and the bridge and delete their state
localstack-down:
	./localstack/down.sh
