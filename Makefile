# Two commands on a fresh Linux/macOS machine (Python 3.11+):
#   make demo   - create .venv, install IOPDesk, open the demo clinic
#   make test   - create .venv, install IOPDesk + test tools, run lint, types and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint install clean screenshots bench release-smoke

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "IOPDesk needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/iopdesk demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	sh scripts/system-deps.sh
	$(BIN)/python -m pytest

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/today.png --page today --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/clients.png --page clients --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/chart.png --page chart --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/admin.png --page admin --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/today-1920.png --page today --size 1920x1080
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/lock.png --page lock --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/consents.png --page consents --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/audit.png --page audit --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/breakglass.png --page breakglass --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/intake.png --page intake --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/caseloads.png --page caseloads --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/schedule.png --page schedule --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/signin.png --page signin --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/weekly-hours.png --page hours --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/chart-attendance.png --page chart-attendance --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/billing.png --page billing --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/billing-payers.png --page billing-payers --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/chart-billing.png --page chart-billing --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/notes.png --page notes --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/note-editor.png --page note-editor --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/group-note.png --page group-note --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/discharge.png --page discharge --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/iopdesk demo --screenshot docs/screenshots/aftercare.png --page aftercare --size 1366x768
	QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json $(BIN)/python scripts/billing_screenshots.py docs/screenshots

# The frozen app (PyInstaller) for this platform, packaged and smoke-tested like a clean PC:
# see docs/install.md. Its own virtualenv, so the release tools never mix with .venv.
RELVENV ?= build/relvenv
RELSTAMP := $(RELVENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

$(RELSTAMP): pyproject.toml
	test -x $(RELVENV)/bin/python || $(PYTHON) -m venv $(RELVENV)
	$(RELVENV)/bin/python -m pip install --quiet --upgrade pip
	$(RELVENV)/bin/python -m pip install --quiet -e '.[release]'
	rm -f $(RELVENV)/.installed-*
	touch $(RELSTAMP)

release-smoke: $(RELSTAMP)
	$(RELVENV)/bin/python installer/build.py

# Large-clinic benchmarks (issue 11): builds benchmarks/.cache/ once (a few minutes), prints each
# figure with its baseline, ratio and target, and rewrites the table in docs/performance.md.
# BENCH_ARGS="--scale 0.02" for a quick look.
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
