# The two things a newcomer runs; CI runs `make test`.
# Everything is installed into the project's own virtual environment .venv, never into the Python
# that is first on the PATH: Debian/Ubuntu's system Python refuses `pip install` (PEP 668), and
# elsewhere it would mix this project's pins into the user's packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Written after a successful install; older than requirements.txt or pyproject.toml = reinstall.
STAMP := $(VENV)/installed.stamp

.PHONY: install book test browser reference-notebooks paper-results clean

install: $(STAMP)

# `python3 -m venv` fails on Debian/Ubuntu without the python3.X-venv package (no ensurepip).
# As root with apt-get we install it and retry; otherwise we say which package to install.
$(PY):
	@out=$$($(PYTHON) -m venv $(VENV) 2>&1) && exit 0; \
	rm -rf $(VENV); \
	case "$$out" in *ensurepip*) ;; *) echo "$$out" >&2; exit 1;; esac; \
	pkg=python$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "$(PYTHON) -m venv needs ensurepip: installing Debian's $$pkg"; \
	  apt-get update -qq && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null || \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; } && \
	  $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }; \
	else \
	  echo "error: '$(PYTHON) -m venv' needs ensurepip: install Debian's $$pkg package (sudo apt-get install $$pkg), then rerun make" >&2; \
	  exit 1; \
	fi

$(STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

# Headless Chromium for the site test (Debian's package; playwright's own download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the browser test will be skipped"

book: install
	$(VENV)/bin/jupyter-book build .

# pytest exits 5 when it collected no tests: make fails then too, and says why.
test: install browser
	@echo "$(PY) -m pytest"; $(PY) -m pytest; rc=$$?; \
	  [ $$rc != 5 ] || echo "error: pytest collected no tests" >&2; exit $$rc

# Re-execute every chapter in quick mode into tests/notebooks/ (the nbval references).
reference-notebooks: install
	for f in book/*.md; do n=$$(basename $$f .md); if grep -qE "^:tags: \[.*parameters" $$f; then \
	  $(PY) -m tlcore.book run $$n -o tests/notebooks/$$n.ipynb || exit 1; fi; done

# The claim sweeps at paper sizes -> results/paper/*.parquet + provenance.json (shipped with the book).
# Resumable: finished cells are kept in the sweep cache ($$TLCORE_CACHE_DIR or ~/.cache/tlcore).
paper-results: install
	$(PY) -m tlcore paper-results

# results/paper holds the shipped paper-scale tables: not a build product.
clean:
	rm -rf _build
	find results -mindepth 1 -maxdepth 1 ! -name paper -exec rm -rf {} + 2>/dev/null || true
