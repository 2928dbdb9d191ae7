# Parley: one entry point for setting up, running, checking and benchmarking.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo serve test check lint typecheck bench-dss bench-tactical bench-strategic bench-party bench-line bench-compliance bench-protection bench clean system-deps web

# The line's compiled modules (setup.py): built again whenever one of their sources changes.
COMPILED := $(addprefix src/parley/line/,_ed25519.c times.py shapes.py bodies.py entry.py lifecycle.py chain.py transcript.py)

$(STAMP): pyproject.toml requirements.lock setup.py $(COMPILED)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The seed case, live: the shared service and three parties (RED, BLUE, AID) on SQLite in a temporary
## directory, the scenario played in real time (SPEED=10 for ten times faster), each party's map at
## http://127.0.0.1:8082/parties/ID/ui/ with a sign-in printed; Ctrl-C stops it.
SPEED ?= 1
demo: install
	$(BIN)/parley demo --speed $(SPEED)

## Start the DSS and two parties (red, blue) on http://127.0.0.1:8082, embedded SQLite under var/
## (examples/parley.toml; development auth).
serve: install
	$(BIN)/parley db upgrade
	$(BIN)/parley serve --config examples/parley.toml

## The map page: build web/ (npm, Vite) into src/parley/web/static/ (committed, so a user without node
## gets the page) and stamp it with its sources' digest (tests/web checks it is current).
web:
	cd web && npm ci --no-audit --no-fund && npm run build
	$(PYTHON) scripts/web_stamp.py --write

## System packages the tests need (PostgreSQL server); installs them when run as root.
system-deps:
	@bash scripts/ensure-system-deps.sh

## The whole test suite, PostgreSQL tests included (they start their own server).
test: install system-deps
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

## The one gate: lint, types, tests.
check: lint typecheck test

## DSS load benchmark (SQLite and PostgreSQL); N=10000 by default, e.g. make bench-dss N=100000
N ?= 10000
bench-dss: install system-deps
	$(BIN)/python bench/dss_load.py --n $(N)

## Tactical conflict detection beside BlueSky's C++ detector (1k-20k aircraft), Parley alone at 100k, and the
## replay of a recorded hour of real ADS-B; the first run creates BlueSky's own virtualenv under ~/.cache.
bench-tactical: install
	$(BIN)/python bench/tactical.py

## Strategic conflict check: 100 subject volumes (50-vertex polygons) against 1,000 candidate volumes, four
## scenarios, cold and warm; median and p95 in milliseconds.
bench-strategic: install
	$(BIN)/python bench/strategic_check.py

## Party node planning round trip (query the DSS, fetch details from 3 peers, check, write, notify) through
## `parley serve`, peer details fetched and cached, on SQLite; p50/p95/p99 in ms (bench/party_planning.py --postgres:
## on a durable PostgreSQL).
bench-party: install
	$(BIN)/python bench/party_planning.py

## The line between two party nodes (red -> blue, one server and two servers, SQLite): requests per second and
## p50/p95 to the signed receipt, sequential and 8 concurrent senders (targets >= 300/s, p95 <= 50 ms); then the
## offline verification of a 100,000-entry transcript (target <= 5 s; one timing per mode: a run takes minutes).
LINE_VERIFY_ARGS ?= --repeats 1
bench-line: install
	$(BIN)/python bench/line_throughput.py
	$(BIN)/python bench/line_verify.py $(LINE_VERIFY_ARGS)

## Verified compliance: from the last aircraft crossing out (1 Hz telemetry) to the requester's verified
## certificate, two servers on SQLite (target <= 2 s).
bench-compliance: install
	$(BIN)/python bench/compliance_latency.py

## Protection check: an operation of 100 volumes against 10,000 protected sites and movements (target <= 50 ms).
bench-protection: install
	$(BIN)/python bench/protection_check.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
