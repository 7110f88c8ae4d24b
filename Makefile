# The two things a newcomer runs; CI runs `make test`.
PY ?= python3

.PHONY: install book test browser reference-notebooks clean

install:
	$(PY) -m pip install -q -r requirements.txt

# Headless Chromium for the site test (Debian's package; playwright's own download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the browser test will be skipped"

book: install
	jupyter-book build .

test: install browser
	$(PY) -m pytest

# Re-execute every chapter in quick mode into tests/notebooks/ (the nbval references).
reference-notebooks: install
	for f in book/*.md; do n=$$(basename $$f .md); grep -q "tags: \[parameters\]" $$f && \
	  $(PY) -m tlcore.book run $$n -o tests/notebooks/$$n.ipynb || true; done

clean:
	rm -rf _build results
