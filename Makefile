# grpckit's build. Tools and the Consul agent the tests need are built from the
# Go module proxy into a cache outside the clone ($(CACHE)), once.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

CACHE ?= $(or $(GRPCKIT_CACHE),$(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME)/grpckit,$(HOME)/.cache/grpckit))
BIN := $(CACHE)/bin
export GRPCKIT_CACHE := $(CACHE)
export PATH := $(BIN):$(PATH)

CONSUL_VERSION := 1.14.5
CONSUL := $(CACHE)/consul-$(CONSUL_VERSION)/consul
export CONSUL_BIN ?= $(CONSUL)

BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION := v0.8.2
GRPCURL_VERSION := v1.9.4
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da

GO_TEST_FLAGS ?=
BENCH ?= .
BENCH_COUNT ?= 6

DEMO_FLAGS ?=

.PHONY: demo test lint bench-report fmt-check vet staticcheck buf-lint generate generate-check go-test bench tools consul clean-cache

## demo: run the one-command demo on an embedded etcd (DEMO_FLAGS="-phase 15s" for a longer run).
demo:
	go run ./examples/demo $(DEMO_FLAGS)

## test: everything CI checks: formatting, vet, staticcheck, buf lint, fresh generated code, go test -race
## (the examples' test runs grpcurl against the example server; the demo's test runs the demo).
test: lint generate-check consul $(BIN)/grpcurl
	go test -race -timeout 30m $(GO_TEST_FLAGS) ./...

## lint: gofmt, go vet, staticcheck and buf lint.
lint: fmt-check vet staticcheck buf-lint

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## vet also runs for macOS and Windows, so packages users import in their own tests (registrytest) build there.
vet:
	go vet ./...
	GOOS=darwin go vet ./...
	GOOS=windows go vet ./...

staticcheck: $(BIN)/staticcheck
	staticcheck ./...

buf-lint: $(BIN)/buf
	buf lint

## generate: regenerate the protobuf code with buf and local plugins.
generate: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
	buf generate

## generate-check: fail when the committed generated code is stale.
generate-check: generate
	@if [ -n "$$(git status --porcelain -- proto)" ]; then \
		echo "generated code in proto/ is stale: run 'make generate' and commit"; git status --porcelain -- proto; exit 1; fi

## bench: every benchmark beside its anchor, $(BENCH_COUNT) times, with allocations, then the load and
## balancing-quality runs; raw results and benchstat comparisons go to bench/out.
bench: consul $(BIN)/benchstat
	BENCH='$(BENCH)' BENCH_COUNT=$(BENCH_COUNT) scripts/bench.sh

## bench-report: regenerate docs/PERFORMANCE.md and its plots from the committed results in bench/results
## (publish a run first with scripts/bench.sh publish, which also regenerates them).
bench-report:
	go run ./bench/cmd/report -in bench/results -out docs

## tools: install the pinned tools into $(BIN).
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/staticcheck $(BIN)/benchstat $(BIN)/grpcurl

$(BIN)/buf:
	GOBIN=$(BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/staticcheck:
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(BIN)/benchstat:
	GOBIN=$(BIN) go install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
$(BIN)/grpcurl:
	GOBIN=$(BIN) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

## consul: build the Consul agent the integration tests run, once, into the cache.
consul: $(CONSUL)
$(CONSUL):
	GRPCKIT_CACHE=$(CACHE) CONSUL_VERSION=$(CONSUL_VERSION) scripts/build-consul.sh

## clean-cache: remove the tools and the Consul agent from the cache.
clean-cache:
	chmod -R u+w $(CACHE) 2>/dev/null || true
	rm -rf $(CACHE)
