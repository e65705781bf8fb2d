# Quick start: `make run` and `make test`. Each creates .venv/ on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench faults simulate clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) app.py run

test: $(STAMP)
	$(PY) -m pytest -q

simulate: $(STAMP)
	$(PY) app.py simulate

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

.PHONY: teams-package
teams-package:  # dist/teams-app.zip for upload to Teams; needs MICROSOFT_APP_ID
	$(PYTHON) bot/teams/package.py
