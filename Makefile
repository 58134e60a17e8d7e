# sdesk - see README.md. `make run` and `make test` work on a fresh machine:
# the Makefile installs what it needs (staticcheck, DynamoDB Local).
SHELL := /bin/bash
GO ?= go
export GOFLAGS ?= -buildvcs=false

CACHE_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/sdesk
TOOLS_BIN := $(CACHE_DIR)/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)
ARTIFACTS_DIR ?= bin
LAMBDA_BUILD := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w'
FUZZTIME ?= 5s

.PHONY: size events run test unit bench load lint tidy fmt vet staticcheck cfn-lint fuzz chaos build build-Interactions build-Webhook dynamodb-local dynamodb-local-stop local local-stop tools clean

## run: sdesk serve (reads .env; SDESK_STORE there or in the environment, default bolt)
run:
	$(GO) run ./cmd/sdesk serve

## fakes: the Discord and GitLab fakes as one process, set up for sdesk, until Ctrl-C; writes .env.fakes
## (README, "Try it locally with fake Discord and GitLab"). DEVFAKES_DISCORD_ADDR, DEVFAKES_GITLAB_ADDR
## and DEVFAKES_SDESK_URL move them (127.0.0.1:8091, 127.0.0.1:8092, http://127.0.0.1:8080).
.PHONY: fakes
fakes:
	$(GO) run ./internal/devfakes

## test: everything: lint, template, unit + integration tests on DynamoDB Local, fuzz briefly
test: lint cfn-lint fuzz size
	scripts/with-dynamodb.sh $(GO) test -race -count=1 ./...

## fuzz: run every fuzz target for FUZZTIME (an engine deadline hiccup is not a finding: see the script)
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## chaos: the chaos run (issue 8, item 9): ~500 mixed operations against sdesk serve with 20% faults
## and two kills; prints the seed and the counts. CHAOS_SEED=N replays a run (0: a new seed each time).
CHAOS_SEED ?= 0
CHAOS_OPS ?= 500
chaos:
	$(GO) test ./cmd/sdesk -run '^TestChaos$$' -count=1 -v -timeout 60m -args \
	  -chaos.seed=$(CHAOS_SEED) -chaos.ops=$(CHAOS_OPS) -chaos.kills=2 -chaos.rate=0.2 -chaos.settle=3m

## bench: one table of sdesk against its physical floors, each pair measured side by side (internal/bench,
## issue 12), written to bench/results/<date>.json; then every Benchmark* function. With DynamoDB Local.
## About 2 minutes on 2 cores once the build cache is warm (the first run builds for linux/arm64 too).
BENCH_OUT ?= bench/results
bench:
	GO=$(GO) BENCH_OUT=$(BENCH_OUT) scripts/with-dynamodb.sh scripts/bench.sh

## load: a bounded load test on loopback: signed interactions (/report submits, /reply, /close autocomplete,
## /issues) and GitLab webhooks mixed, LOAD_RATE requests/s for LOAD_DURATION against sdesk serve with the
## fakes; prints percentiles, errors and the effects. LOAD_STORE=dynamodb runs it on DynamoDB Local.
LOAD_RATE ?= 40
LOAD_DURATION ?= 30s
LOAD_STORE ?= bolt
load:
	set -o pipefail; $(if $(filter dynamodb,$(LOAD_STORE)),scripts/with-dynamodb.sh) $(GO) test ./internal/bench -run '^TestLoad$$' -count=1 -v -timeout 20m \
	  -args -load.run -load.rate=$(LOAD_RATE) -load.duration=$(LOAD_DURATION) -load.store=$(LOAD_STORE) \
	  | grep -v -e '^=== RUN' -e '^PASS$$' -e '^ok '

## lint: gofmt, go vet, staticcheck, go.mod and go.sum tidy
lint: fmt vet staticcheck tidy

# tidy: `go mod tidy` would change nothing (checked on copies, so a failed
# check leaves the tree as it was).
tidy:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp go.mod go.sum "$$tmp"/; \
	$(GO) mod tidy -modfile="$$tmp/go.mod" || exit 1; \
	if ! cmp -s go.mod "$$tmp/go.mod" || ! cmp -s go.sum "$$tmp/go.sum"; then \
	  echo "go.mod/go.sum are not tidy: run go mod tidy"; diff -u go.mod "$$tmp/go.mod"; diff -u go.sum "$$tmp/go.sum"; exit 1; fi

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

$(STATICCHECK):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS_BIN)/staticcheck $@

cfn-lint:
	@command -v cfn-lint >/dev/null || pip install --quiet cfn-lint || { \
	  echo "cfn-lint is missing and could not be installed (pip install cfn-lint)"; exit 1; }
	cfn-lint template.yaml

## size: both bootstraps build for linux/arm64 and stay under 12 MB
size: build
	@for f in $(ARTIFACTS_DIR)/interactions/bootstrap $(ARTIFACTS_DIR)/webhook/bootstrap; do \
	  n=$$(stat -c %s $$f); echo "$$f: $$n bytes"; \
	  [ $$n -lt 12000000 ] || { echo "$$f is over 12 MB"; exit 1; }; \
	done

## build: both Lambda bootstraps for linux/arm64
build: build-Interactions build-Webhook
	@ls -l $(ARTIFACTS_DIR)/*/bootstrap

# SAM (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR set.
build-Interactions:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/$(if $(filter bin,$(ARTIFACTS_DIR)),interactions/)bootstrap ./functions/interactions

build-Webhook:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/$(if $(filter bin,$(ARTIFACTS_DIR)),webhook/)bootstrap ./functions/webhook

# DynamoDB Local of `make local` and `make dynamodb-local`: a fixed port,
# the one events/env.json names (host.docker.internal:8000). `make test`
# starts its own on a free port.
DYNAMODB_PORT ?= 8000
LOCAL_TABLE ?= sdesk-local

## dynamodb-local: fetch (once) and start DynamoDB Local on DYNAMODB_PORT (in memory); prints its endpoint
dynamodb-local:
	DYNAMODB_PORT=$(DYNAMODB_PORT) scripts/dynamodb-local.sh start

## dynamodb-local-stop: stop it (its tables are gone: it keeps them in memory)
dynamodb-local-stop:
	scripts/dynamodb-local.sh stop

## local: DynamoDB Local on DYNAMODB_PORT with the table LOCAL_TABLE made from template.yaml (for sam local invoke, or SDESK_STORE=dynamodb)
local: dynamodb-local
	$(GO) run ./scripts/local-table -endpoint http://127.0.0.1:$(DYNAMODB_PORT) -table $(LOCAL_TABLE)
	@echo "sdesk serve on it: SDESK_STORE=dynamodb SDESK_TABLE=$(LOCAL_TABLE) DYNAMODB_ENDPOINT=http://127.0.0.1:$(DYNAMODB_PORT)"
	@echo "stop it: make local-stop"

## local-stop: stop the DynamoDB Local of make local
local-stop: dynamodb-local-stop

clean:
	rm -rf bin .dynamodb-local events/local

## events: sign every sample event (valid 5 minutes) into events/local/ for sam local invoke (`go run ./cmd/sdesk events -write` rewrites the tracked ones in events/)
events:
	$(GO) run ./cmd/sdesk events
