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
	$(PY) -m pytest -q -m "not faults"

# The fault suite (tests/faults): fuzzing with many examples, platform chaos, killed processes,
# a database outage. Prints its table at the end and writes it to out/faults.txt.
FAULTS_EXAMPLES ?= 2000
faults: $(STAMP)
	FAULTS_EXAMPLES=$(FAULTS_EXAMPLES) $(PY) -m pytest -q -m faults tests/faults

simulate: $(STAMP)
	$(PY) app.py simulate

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

.PHONY: teams-package
teams-package:  # dist/teams-app.zip for upload to Teams; needs MICROSOFT_APP_ID
	$(PYTHON) bot/teams/package.py

# The sample programme simulated start to end, its report as of REPORT_AT, and a screenshot of it
# taken offline with Debian's headless Chromium (installed with apt-get if missing).
REPORT_AT ?= 2027-06-29T12:00+02:00
REPORT_DB := out/report-simulation.db
CHROMIUM ?= chromium
.PHONY: report-screenshot
report-screenshot: $(STAMP)
	mkdir -p out
	rm -f $(REPORT_DB) $(REPORT_DB)-wal $(REPORT_DB)-shm
	$(PY) app.py simulate --keep-db $(REPORT_DB) > out/report-simulation.txt
	DATABASE_URL=sqlite:///$(REPORT_DB) $(PY) app.py report --now $(REPORT_AT) \
		--html out/report.html --csv out/report.csv
	command -v $(CHROMIUM) >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run \
		--host-resolver-rules="MAP * ~NOTFOUND" --hide-scrollbars \
		--screenshot=$(CURDIR)/out/report.png --window-size=1280,3800 \
		file://$(CURDIR)/out/report.html 2> out/chromium.log
	@echo "Wrote out/report.html, out/report.csv and out/report.png"

# The manager's web console photographed page by page at laptop and phone width, with Debian's
# headless Chromium and chromedriver (installed with apt-get if missing): out/console-*.png.
.PHONY: console-screenshots
console-screenshots: $(STAMP)
	command -v chromedriver >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium chromium-driver)
	$(PY) -m tests.browser.screenshots out
