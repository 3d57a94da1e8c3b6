# hcstream: `make run` starts the local stack and the service; `make test` runs every
# test against real Kafka and ClickHouse. Both install what they need on a fresh machine.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
LOCAL_DIR ?= $(or $(HC_LOCAL_DIR),$(CURDIR)/.local)
TEST_ENV := . $(LOCAL_DIR)/test.env
STATICCHECK_VERSION := v0.8.2
GOBIN := $(shell $(GO) env GOPATH)/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all run test up down status build lint unit integration test-fault test-current-clickhouse current-clickhouse-install test-alerts fuzz bench load load-floor clean

all: build

## run: start Kafka and ClickHouse on loopback, build, and run `hcstream all` on 127.0.0.1:8000
run: up build
	@echo "hcstream: create a project in another shell with: bin/hcstream project create --name demo"
	./bin/hcstream all

## test: lint, unit tests, the alerting rules' tests, integration tests, fault tests (which
## stop and start the stack), then every statement those tests sent to ClickHouse 18.16
## run again on ClickHouse 25.8
test: up lint unit test-alerts current-clickhouse-install integration test-fault test-current-clickhouse
# The tests' databases stay on 18.16 until test-current-clickhouse has copied their rows.
test: export HC_TEST_KEEP_DATABASES := 1

up:
	bash deploy/local/up.sh

down:
	bash deploy/local/down.sh

status:
	bash deploy/local/status.sh

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/hcstream ./cmd/hcstream

$(GOBIN)/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(GOBIN)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GOBIN)/staticcheck ./...
	$(GOBIN)/staticcheck -tags integration ./...

unit:
	$(GO) test -race -count=1 ./...

integration:
	date +%s >$(LOCAL_DIR)/statements-since
	$(TEST_ENV) && $(GO) test -race -count=1 -tags integration -skip '^TestFault' ./...

test-fault:
	$(TEST_ENV) && $(GO) test -race -count=1 -tags integration -run '^TestFault' -p 1 ./...

## test-alerts: promtool checks deploy/prometheus/alerts.yml and runs its unit tests
test-alerts:
	bash deploy/local/promtool.sh check-alerts

# Starts the install of current ClickHouse (chDB) at idle priority, so it overlaps the
# integration tests; test-current-clickhouse waits for it.
current-clickhouse-install:
	bash deploy/local/current-clickhouse.sh install-background

## test-current-clickhouse: run the statements logged since `make integration` began on
## ClickHouse 25.8 (chDB), comparing every read with 18.16's answer
test-current-clickhouse:
	bash deploy/local/current-clickhouse.sh check

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./schemas
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./projector/check
	$(GO) test -run '^$$' -fuzz '^FuzzStatusUntil$$' -fuzztime $(FUZZTIME) ./projector/check
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./ingest/pingurl
	$(GO) test -run '^$$' -fuzz '^FuzzCreateCheck$$' -fuzztime $(FUZZTIME) ./query
	$(GO) test -run '^$$' -fuzz '^FuzzPingHandler$$' -fuzztime $(FUZZTIME) ./ingest
	$(GO) test -run '^$$' -fuzz '^FuzzQueryStrings$$' -fuzztime $(FUZZTIME) ./query
	$(GO) test -run '^$$' -fuzz '^FuzzPythonConstants$$' -fuzztime $(FUZZTIME) ./query
	$(GO) test -run '^$$' -fuzz '^FuzzCheckJSON$$' -fuzztime $(FUZZTIME) ./query
	$(GO) test -run '^$$' -fuzz '^FuzzISOSeconds$$' -fuzztime $(FUZZTIME) ./query
	$(GO) test -run '^$$' -fuzz '^FuzzPackedRowDecode$$' -fuzztime $(FUZZTIME) ./projector
	$(GO) test -run '^$$' -fuzz '^FuzzParseCron$$' -fuzztime $(FUZZTIME) ./projector/schedule
	$(GO) test -run '^$$' -fuzz '^FuzzOnCalendar$$' -fuzztime $(FUZZTIME) ./projector/schedule
	$(GO) test -run '^$$' -fuzz '^FuzzMatchers$$' -fuzztime $(FUZZTIME) ./ingest/pingurl
	$(GO) test -run '^$$' -fuzz '^FuzzLastQueryValue$$' -fuzztime $(FUZZTIME) ./ingest/pingurl

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./schemas ./projector/check

## load: drive pings at a running `make run` and verify them in Kafka (loopback only)
LOAD_RATE ?= 25000
LOAD_DURATION ?= 60s
LOAD_CHECKS ?= 1000
LOAD_CONNECTIONS ?= 256
load: build
	$(GO) build -o bin/hcload ./cmd/hcload
	key=$$(bin/hcstream project create --name load | sed 's/.*"api_key":"\([^"]*\)".*/\1/'); \
	bin/hcload -api-key "$$key" -checks $(LOAD_CHECKS) -rate $(LOAD_RATE) -concurrency $(LOAD_CONNECTIONS) -duration $(LOAD_DURATION)

## load-floor: what answering pings over HTTP alone takes from this machine at the load's rate (no stack needed)
load-floor:
	$(GO) build -o bin/hcload ./cmd/hcload
	bin/hcload -floor -rate $(LOAD_RATE) -concurrency $(LOAD_CONNECTIONS) -duration $(LOAD_DURATION)

clean:
	rm -rf bin
