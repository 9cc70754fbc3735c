# Consequent's build targets. PostgreSQL specs (label "integration") find their
# server as pgstore/pgtest documents: CONSEQUENT_TEST_DATABASE_URL, else a container
# of CONSEQUENT_POSTGRES_IMAGE (default postgres:16-alpine), else they are skipped
# with a message that says how to get one.
#
#   make test              every spec, race detector, parallel, random order
#   make unit              the specs that need no PostgreSQL
#   make integration-test  only the PostgreSQL specs; a missing database fails
#   make lint              gofmt and go vet (vet also compiles Examples and benchmarks)
#   make bench             benchmarks (-count=6), saved to bench.txt, then benchstat's
#                          table (consequent beside raw, with its noise) and the goals
#                          (ratios to raw; absolute ones, e.g. BenchmarkSpec ≤ 20µs)
#   make bench-goals       the goals of bench.txt again: each row's ratio to raw pgx
#   make bench-rebuild     BenchmarkRebuild on 1,000,000 events beside its raw
#                          twin, saved to bench-rebuild.txt, then its ratio
#   make bench-server      S1's unit of work in pgbench, statement by statement
#                          (pgstore/testdata/pgbench): where PostgreSQL's time goes
#   make bench-scale       BenchmarkScale: S1 (8 clients) and S2 on stores already
#                          holding 0, 1M and 10M events (SCALE_EVENTS), beside raw,
#                          saved to bench-scale.txt; benchstat across the sizes and
#                          each rate relative to the empty store's (goal ≥ 0.9×).
#                          Takes 6 to 15 minutes on 2 cores and ~10 GB of disk
#                          (the database is dropped at the end); not in make bench
#   make db                start the machine's PostgreSQL (.ci/pg-start.sh, as root)
#                          and print the export line for CONSEQUENT_TEST_DATABASE_URL

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO ?= go
GINKGO ?= $(GO) tool ginkgo
# -r: every package; -p: one process per core (each gets its own database);
# --keep-going: report every failing suite, not just the first.
GINKGO_FLAGS ?= -r -p --race --randomize-all --randomize-suites --keep-going \
	--timeout=30m --poll-progress-after=120s
ifeq ($(CI),true)
GINKGO_FLAGS += --no-color
endif
# Packages for ginkgo (empty: all, through -r), e.g. make test PKGS=./pgstore/pgtest
PKGS ?=
# -p 1: one package at a time, so benchmarks do not compete for the cores. The
# pgstore benchmarks run in pairs (…/impl=consequent beside …/impl=raw pgx)
# against the same database; -count=6 gives benchstat enough samples for its
# confidence intervals. BENCH selects benchmarks, e.g. make bench BENCH='S[1-4]'.
BENCH ?= .
BENCH_COUNT ?= 6
BENCH_FLAGS ?= -p 1 -run '^$$' -bench '$(BENCH)' -benchmem -benchtime=1s -count=$(BENCH_COUNT) -timeout=60m
# Benchmarks of pgstore need a server too; leftover per-process databases are
# dropped by pgtest.Close.
BENCH_PKGS ?= ./...

.PHONY: test unit integration-test lint bench bench-goals bench-rebuild bench-server bench-scale db

# The run's JSON report, from which skipsummary counts the PostgreSQL specs
# skipped for want of a server.
REPORT_DIR ?= $(or $(TMPDIR),/tmp)/consequent-ginkgo

test:
	status=0; $(GINKGO) $(GINKGO_FLAGS) --output-dir=$(REPORT_DIR) --json-report=report.json $(PKGS) || status=$$?; \
	$(GO) run ./internal/cmd/skipsummary $(REPORT_DIR)/report.json; exit $$status

unit:
	$(GINKGO) $(GINKGO_FLAGS) --label-filter='!integration' $(PKGS)

integration-test:
	CONSEQUENT_REQUIRE_DATABASE=1 $(GINKGO) $(GINKGO_FLAGS) --label-filter=integration $(PKGS)

lint:
	@files=$$(find . -name '*.go' -not -path './.*' -not -path '*/testdata/*' | xargs gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$files"; exit 1; fi
	$(GO) vet ./...

# The tables are printed also when a benchmark failed; make bench fails then
# too (not for a missed goal: make bench-goals does).
bench:
	status=0; $(GO) test $(BENCH_FLAGS) $(BENCH_PKGS) | tee bench.txt || status=$$?; \
	$(GO) tool benchstat -col /impl bench.txt; \
	$(GO) run ./internal/cmd/benchgoals bench.txt || true; exit $$status

# Each …/impl=consequent row beside its …/impl=raw twin: medians, the ratio,
# and whether it meets the goal (≥ 0.8× raw); fails when one does not.
BENCH_FILE ?= bench.txt
bench-goals:
	@$(GO) run ./internal/cmd/benchgoals $(BENCH_FILE)

# BenchmarkRebuild at REBUILD_EVENTS events (streams of 100), once per count
# (-benchtime=1x: each run imports the history and rebuilds it once untimed
# first, so a run takes about a minute per side on 2 cores), then the ratio
# table of those runs (medians).
REBUILD_EVENTS ?= 1000000
REBUILD_COUNT ?= 3
bench-rebuild:
	status=0; CONSEQUENT_BENCH_REBUILD_EVENTS=$(REBUILD_EVENTS) $(GO) test -p 1 -run '^$$' \
		-bench '^BenchmarkRebuild$$' -benchmem -benchtime=1x -count=$(REBUILD_COUNT) -timeout=60m \
		./pgstore | tee bench-rebuild.txt || status=$$?; \
	$(GO) tool benchstat -col /impl bench-rebuild.txt; \
	$(GO) run ./internal/cmd/benchgoals bench-rebuild.txt || true; exit $$status

# pgbench (one client) runs S1's unit of work as raw pgx sends it, as the event
# store's statements send it piece by piece, and as the commit() function of
# before migration 008; ROUNDS and SECONDS_PER_RUN size it.
bench-server:
	@test -n "$${CONSEQUENT_TEST_DATABASE_URL:-}" || { echo "bench-server: set CONSEQUENT_TEST_DATABASE_URL (make db prints it)"; exit 2; }
	pgstore/testdata/pgbench/run.sh "$$CONSEQUENT_TEST_DATABASE_URL"

# BenchmarkScale at each store size of SCALE_EVENTS (multiples of 100, filled
# in accounts of 100 events, Consequent's tables with Store.Import and the raw
# twins' with COPY), -count=SCALE_COUNT runs of each sub-benchmark, then
# benchstat with one column per size and, from benchgoals -scale, each rate
# relative to the first size's. The fill rates and the tables' and indexes'
# sizes (in all and per million events) are the lines "scale …" of the file.
SCALE_EVENTS ?= 0,1000000,10000000
SCALE_COUNT ?= 6
bench-scale:
	status=0; CONSEQUENT_BENCH_SCALE=$(SCALE_EVENTS) $(GO) test -p 1 -run '^$$' \
		-bench '^BenchmarkScale$$' -benchmem -benchtime=1s -count=$(SCALE_COUNT) -timeout=120m \
		./pgstore | tee bench-scale.txt || status=$$?; \
	$(GO) tool benchstat -col /events bench-scale.txt; \
	$(GO) run ./internal/cmd/benchgoals -scale bench-scale.txt || true; exit $$status

db:
	@if [ "$$(id -u)" = 0 ]; then dsn=$$(.ci/pg-start.sh); else dsn=$$(sudo .ci/pg-start.sh); fi; \
	echo "PostgreSQL is up. For the specs:"; \
	echo "  export CONSEQUENT_TEST_DATABASE_URL='$$dsn'"
