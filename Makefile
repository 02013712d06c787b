# tocsin: `make run` starts the daemon on the embedded SQLite store, `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= deploy/tocsin.yml
STAMP  := $(VENV)/.installed

.PHONY: venv run alertmanager test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/tocsin run --config $(CONFIG)

# A real Alertmanager in front of `make run`: deploy/alertmanager.yml with its `tocsin` host pointed at TOCSIN_URL.
TOCSIN_URL   ?= http://127.0.0.1:9097
AM_LISTEN    ?= 127.0.0.1:9093
AM_DATA      ?= deploy/data/alertmanager
ALERTMANAGER ?= $(shell command -v prometheus-alertmanager || command -v alertmanager)

alertmanager:
	@test -n "$(ALERTMANAGER)" || { echo "make alertmanager: install prometheus-alertmanager (Debian) or alertmanager" >&2; exit 1; }
	mkdir -p $(AM_DATA)
	sed 's#http://tocsin:9097#$(TOCSIN_URL)#' deploy/alertmanager.yml > $(AM_DATA)/alertmanager.yml
	exec $(ALERTMANAGER) --config.file=$(AM_DATA)/alertmanager.yml --storage.path=$(AM_DATA) \
		--web.listen-address=$(AM_LISTEN) --cluster.listen-address=

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest

test: lint typecheck pytest

bench: venv
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info deploy/data
