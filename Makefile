# The two commands of the README: `make verify` and `make test`.
# Both create .venv with `python3 -m venv` when it is missing and install the project into it.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-stamp
NBVAL   = -p no:python --nbval-lax --nbval-current-env \
          --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

.PHONY: verify test unit lint typecheck nbval refresh site slides lab readme browser bench sweep clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,nb,docs,fast]"
	@touch $(STAMP)

## verify: run every notebook, print the claims table, exit 1 on any failed claim
verify: $(STAMP)
	$(PY) -m theory verify $(VERIFY_ARGS)

## test: unit tests, then nbval on every notebook; fails if either fails (exit 5 included)
test: $(STAMP) browser lint typecheck
	@rc=0; \
	$(PY) -m pytest tests || rc=1; \
	$(PY) -m pytest $(NBVAL) notebooks/ || rc=1; \
	exit $$rc

unit: $(STAMP)
	$(PY) -m pytest tests

## lint: ruff on the package, the tests, the benches and the notebooks' .py twins
lint: $(STAMP)
	$(PY) -m ruff check theory tests bench notebooks/*.py

## typecheck: mypy on the package (the shared layer strictly; see [tool.mypy] in pyproject.toml)
typecheck: $(STAMP)
	$(PY) -m mypy theory

nbval: $(STAMP)
	$(PY) -m pytest $(NBVAL) notebooks/

## refresh: re-execute notebooks in place in quick mode and sync their jupytext pairs
refresh: $(STAMP)
	$(PY) -m theory refresh $(if $(NB),--only $(NB))

## sweep: rerun notebooks over seeds (and --grid NAME=V1,V2) on dask; pass rate of every claim
sweep: $(STAMP)
	$(PY) -m theory sweep $(SWEEP_ARGS)

## site: static HTML book of the notebooks executed by `make verify` (_build/site/index.html)
site: $(STAMP)
	$(PY) -m theory site

## slides: a reveal.js deck per notebook executed by `make verify` (_build/slides/, offline)
slides: $(STAMP)
	$(PY) -m theory slides

## lab: JupyterLab on the notebooks with the project's kernel (.venv); jupytext opens the .py twins
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

## readme: rewrite the README claims table from _build/claims.json (after `make verify`)
## and the pass rates over seeds from results/sweep-quick.json
readme: $(STAMP)
	$(PY) -m theory readme

## browser: Debian's Chromium and its driver for the browser test (installed when missing and we are root)
browser:
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && \
	command -v chromedriver >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "chromium not found: the browser test will be skipped (install Debian's chromium)"; \
	fi

## bench: benchmarks, ratios measured in one run (printed, never asserted)
bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
