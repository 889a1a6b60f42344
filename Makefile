# The two commands of the README: `make serve` and `make test`. Both create
# .venv and install the project on first use; the stamp file makes later
# runs skip the install until pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vlmbook-installed
# torch first, pinned: pip would otherwise resolve torch from the project's
# range, and a plain newer torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
PYTEST_WORKERS ?= 2

# The book and its tests run offline on the embedded checkpoints. Hub mode
# (VLMBOOK_CHECKPOINTS=hub) downloads the public checkpoints, so it keeps the
# network; tests/conftest.py sets HF_HUB_OFFLINE=1 for the suite either way.
ifneq ($(VLMBOOK_CHECKPOINTS),hub)
export HF_HUB_OFFLINE := 1
endif
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve test build bench lighthouse

# npm ci installs the pinned axe-core (accessibility tests) and Lighthouse
# from package-lock.json into node_modules/.
$(STAMP): package-lock.json
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[docs,dev]'
	npm ci --no-audit --no-fund
	touch $(STAMP)

serve: $(STAMP)
	SITE_URL=http://127.0.0.1:8000/ $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000 --livereload --watch snippets --watch vlmbook

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25 tests

build: $(STAMP)
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	@set -e; for script in benchmarks/*.py; do \
		if [ -f "$$script" ]; then echo "== $$script"; $(BIN)/python "$$script"; fi; \
	done

# Lighthouse scores of the home page and one chapter in each edition; fails
# below 95 in performance, accessibility or best practices.
lighthouse: $(STAMP)
	$(BIN)/python tests/site/lighthouse_scores.py
