# Orbit's two commands for a fresh machine: `make run` and `make test`.
GO      ?= go
ARGS    ?=
FUZZTIME ?= 5m

.PHONY: all tools build run test test-short lint fuzz bench clean lambdas rie

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

## rie: the Lambda Runtime Interface Emulator (runs a bootstrap with a local Invoke API) into bin/
RIE_VERSION ?= v0.0.0-20261030222936-bef5c4ba774d
rie: bin/aws-lambda-rie

bin/aws-lambda-rie:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## build: the orbit binary into bin/
build:
	$(GO) build -o bin/orbit ./cmd/orbit

## run: start Orbit's embedded shape (API and UI on http://127.0.0.1:8080)
run: tools build
	./bin/orbit up $(ARGS)

## test: start every service the tests need (moto_server, Nomad), run all tests, stop them
test: tools build rie
	./scripts/test.sh

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: long fuzzing runs (not part of make test)
fuzz:
	$(GO) test ./shared/config -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME)

## bench: benchmarks with the services they need (figures go to docs/PERFORMANCE.md)
bench: tools build rie
	BENCH=1 ./scripts/test.sh

clean:
	rm -rf bin/orbit .orbit
