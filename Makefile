# Orbit's two commands for a fresh machine: `make run` and `make test`.
GO      ?= go
ARGS    ?=
FUZZTIME ?= 5m

.PHONY: all tools build run test test-short lint fuzz bench chaos clean

all: build

## tools: build Nomad 1.6.0 from the Go module proxy into bin/ (once)
tools: bin/nomad

bin/nomad: scripts/build-nomad.sh
	./scripts/build-nomad.sh

## build: the orbit binary into bin/
build:
	$(GO) build -o bin/orbit ./cmd/orbit

## run: start Orbit's embedded shape (API and UI on http://127.0.0.1:8080)
run: tools build
	./bin/orbit up $(ARGS)

## test: start every service the tests need (moto_server, Nomad), run all tests, stop them
test: tools build
	./scripts/test.sh

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: long fuzzing runs (not part of make test)
fuzz:
	$(GO) test ./shared/config -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME)

## bench: benchmarks with the services they need (figures go to docs/PERFORMANCE.md)
bench: tools build
	BENCH=1 ./scripts/test.sh

## chaos: the chaos drills (kill -9, Nomad outages, replays, soak, redelivery storm) → docs/CHAOS.md
chaos: tools build
	./scripts/chaos.sh

clean:
	rm -rf bin/orbit .orbit

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
