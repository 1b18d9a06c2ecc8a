# Shortify's tasks. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/shortify
PKGS  := ./...
# Benchmarks: packages that have them, and how long each runs.
BENCH_PKGS ?= ./internal/... ./caddymodule/... ./controlplane/...
BENCHTIME  ?= 1s
# Creates through the HTTP API (bench/creates), 1 node and 3 nodes: a fixed
# number of creates per case, so the run is bounded (about 20 s).
CREATES_BENCHTIME ?= 20000x

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the shortify binary (Caddy + the Shortify modules) into bin/.
	$(GO) build -trimpath -o $(BIN) ./cmd/shortify

# xcaddy and Caddy versions of the image; xcaddy.Dockerfile pins the same.
XCADDY_VERSION ?= v0.4.5
CADDY_VERSION  ?= v2.11.9

.PHONY: xcaddy-check
xcaddy-check: ## Build with xcaddy as xcaddy.Dockerfile does (no Docker engine) and check the module list.
	scripts/xcaddy-check.sh $(XCADDY_VERSION) $(CADDY_VERSION)

.PHONY: run
run: build ## Start the whole system on its embedded default (SQLite, one node) at http://localhost:8080.
	$(BIN) run --config Caddyfile --adapter caddyfile

.PHONY: stack
stack: build ## Start the production shape on this machine (PostgreSQL + replica, Redis Cluster, broker, 3 control-plane nodes, 2 edges, front door, 2 stats) until Ctrl-C.
	$(GO) build -o bin/shortify-stack ./cmd/shortify-stack
	bin/shortify-stack -bin $(BIN) -dir data/stack

.PHONY: services
services: ## Start (or install) PostgreSQL and Redis for the tests.
	scripts/test-services.sh

# Test packages run at once: most of their time is spent waiting on
# PostgreSQL, Redis, Chromium and child processes, so twice the cores keeps
# the 2-core machine busy (about 56% with -p 2).
TEST_P ?= 4

# The shortify binary that a dozen packages run is built once, up front,
# into a temporary directory (testenv.BinaryEnv), not once per package.
.PHONY: test
test: services ## Run every test against real PostgreSQL and Redis.
	scripts/ensure-debian-package.sh chromium chromium # the dashboard's browser test (e2e)
	scripts/ensure-debian-package.sh prometheus prometheus promtool # alerting rules' tests (deploy), the stack test (e2e)
	bindir=$$(mktemp -d) && chmod 755 $$bindir && trap 'rm -rf "$$bindir"' EXIT && \
	$(GO) build -o $$bindir/shortify ./cmd/shortify && \
	SHORTIFY_TEST_BINARY=$$bindir/shortify $(GO) test -count=1 -p $(TEST_P) -timeout 15m $(PKGS)
	$(GO) test -count=1 -race ./caddymodule/internal/flatcache # the L1's locking and its unsafe strings

.PHONY: bench
bench: services ## Run the Go benchmarks (edge handler, code generation, stores, creates through the API), the edge under wrk and the stats ingest.
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $(BENCH_PKGS)
	$(GO) test -run='^$$' -bench=. -benchtime=$(CREATES_BENCHTIME) -timeout 5m ./bench/creates
	$(MAKE) --no-print-directory bench-edge
	$(MAKE) --no-print-directory bench-stats
	$(MAKE) --no-print-directory bench-import

# Stats ingest (stats/ingest): events from the topic (kfake, pre-produced)
# into committed aggregates in PostgreSQL, one consumer; STATS_BENCH_EVENTS
# events over 100,000 links (BenchmarkIngest, events/s). Then the delay
# from redirect to visible count (BenchmarkDelay, p50/p99): STATS_BENCH_RATE
# clicks/s through the edge's emitter while STATS_BENCH_PROBES probe
# clicks are timed until the stats store shows them.
STATS_BENCH_EVENTS ?= 1000000
STATS_BENCH_RATE ?= 10000
STATS_BENCH_PROBES ?= 30

.PHONY: bench-stats
bench-stats: services ## Stats ingest: events/s into committed aggregates (one consumer, PostgreSQL), then the redirect-to-visible-count delay (p50/p99).
	SHORTIFY_BENCH_EVENTS=$(STATS_BENCH_EVENTS) $(GO) test -run='^$$' -bench=BenchmarkIngest -benchtime=1x -timeout 20m ./stats/ingest/
	SHORTIFY_BENCH_RATE=$(STATS_BENCH_RATE) SHORTIFY_BENCH_PROBES=$(STATS_BENCH_PROBES) $(GO) test -run='^$$' -bench=BenchmarkDelay -benchtime=1x -timeout 10m ./stats/ingest/

# `shortify import` (bench/import): a plain CSV of IMPORT_BENCH_LINKS links into
# one control plane on PostgreSQL (the shipped Caddyfile), then the same file
# again (everything already there). Bounded by the link count (about a minute).
IMPORT_BENCH_LINKS ?= 100000

.PHONY: bench-import
bench-import: build services ## `shortify import` of 100,000 links into a control plane on PostgreSQL, then again; prints links/s and the load average.
	$(GO) run ./bench/import -bin $(BIN) -links $(IMPORT_BENCH_LINKS)

# The figures of docs/sizing.md that need no load test (bench/sizing): disk
# per link and per stats row, PostgreSQL blocks per lookup, the stats rows
# a day at 100 million and 8.6 billion clicks, Redis memory and CPU per
# GET, the broker's CPU per click event. Flags: go run ./bench/sizing -h.
SIZING_FLAGS ?=

.PHONY: bench-sizing
bench-sizing: services ## Measure what docs/sizing.md builds on: disk per link and stats row, blocks per lookup, Redis memory and CPU per GET, broker CPU per event.
	$(GO) run ./bench/sizing $(SIZING_FLAGS)

# The edge through wrk against Caddy's static redir (bench/edge): 10,000 and
# 1,000,000 plain links, then 1,000,000 smart links (three rules and a split
# each), about 10 minutes on a quiet machine (most of it warming million-entry
# L1s through HTTP). Flags: go run ./bench/edge -h.
# After wrk, each case and size also sends A and B the same fixed arrival
# rate (open loop, -rate 5000 req/s by default, -rate 0: none) and prints
# the p99 A/B at that rate (`open-loop p99 A/B at 5000/s`), or NOT
# measured when the generator or an instance did not keep the rate.
# Each plain size prints A's memory per cached link (`memory:`). Ten million
# links: make bench-edge-10m (below); the L1's exact memory per
# link at 10M: FLATCACHE_MEM_SIZES=10000000 go test -run '^$' -bench
# MemoryPerEntry -benchtime=1x ./caddymodule/internal/flatcache.
EDGE_BENCH_FLAGS ?=

.PHONY: bench-edge
bench-edge: build services ## wrk on the edge handler vs Caddy's static redir: plain links (10k and 1M), then 1M smart links (3 rules + a split each); prints both ratios and the open-loop p99 A/B at a fixed rate.
	scripts/ensure-debian-package.sh wrk wrk
	$(GO) run ./bench/edge -bin $(BIN) $(EDGE_BENCH_FLAGS)

# Issue 19's ten million links: 10k and 10M plain links, each A filled by
# the edge's own warm start from a redis-server of the run's own (-fill
# start: about two minutes for 10M instead of most of an hour of GETs),
# no smart case. Prints the scale line (10M against 10k), the open-loop
# p99 A/B of each size and the memory per cached link. One wrk thread: wrk runs a thread's Lua init (reading
# the 10M-line codes file, a minute or more) before it starts the next
# thread, while the first already sends, and counts the first thread's
# requests of that minute against the -d window alone.
# Needs about 8 GB of free memory; 30 to 40 minutes on a busy machine.
.PHONY: bench-edge-10m
bench-edge-10m: build services ## bench-edge at 10k and 10M plain links, filled by the edge's warm start; prints 10M against 10k and the memory per link.
	scripts/ensure-debian-package.sh wrk wrk
	scripts/ensure-debian-package.sh redis-server redis-server
	$(GO) run ./bench/edge -bin $(BIN) -sizes 10000,10000000 -smart-sizes '' -fill start -threads 1 $(EDGE_BENCH_FLAGS)

# The fault suite (bench/faults, docs/faults.md): every TestFault* test,
# the long ones behind the build tag `faults` included, one package at a
# time; prints the table (fault, expected, measured) and ends with
# `faults: N passed, M failed`. Takes tens of minutes; CI does not run it.
FAULTS_FLAGS ?=

.PHONY: faults
faults: build services ## The fault suite: every fault test (long ones included), then its table and `faults: N passed, M failed`.
	scripts/ensure-debian-package.sh prometheus prometheus promtool
	$(GO) run ./bench/faults $(FAULTS_FLAGS)

# The production-shaped stack (make stack's) under a day's mix, through the
# front door (bench/loadtest, docs/loadtest.md): LOADTEST_LINKS links seeded
# by COPY, LOADTEST_RATE requests/s open-loop (98% redirects of Zipf-drawn
# codes, 1% creates, 1% API reads) for LOADTEST_DURATION after a warm-up,
# with the caches as a day leaves them (LOADTEST_START=warm, the default:
# every link in Redis, the hottest million in each L1) or empty (cold);
# prints the plan's targets beside the measured figures, CPU per role and
# profiles, and `loadtest: rps=… targets=met|not-met`. Flags: go run
# ./bench/loadtest -h.
LOADTEST_DURATION ?= 5m
LOADTEST_RATE     ?= 10000
LOADTEST_LINKS    ?= 10000000
LOADTEST_FLAGS    ?=

.PHONY: loadtest
loadtest: build ## The whole stack under 10,000 req/s of redirects, creates and reads for 5 minutes (LOADTEST_DURATION, _RATE, _LINKS): the plan's targets, met or not.
	LOADTEST_DURATION=$(LOADTEST_DURATION) LOADTEST_RATE=$(LOADTEST_RATE) LOADTEST_LINKS=$(LOADTEST_LINKS) \
		$(GO) run ./bench/loadtest -bin $(BIN) $(LOADTEST_FLAGS)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s); corpora live in testdata/.
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$t/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$t $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$${FUZZTIME:-30s} $$t || exit 1; \
		done; \
	done

.PHONY: fmt
fmt: ## Format the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: lint
lint: ## go vet and a gofmt check.
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: clean
clean: ## Remove build output and the embedded default's data directory.
	rm -rf bin data
