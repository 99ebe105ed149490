# The two commands of the README:
#   make book   set up .venv, execute every chapter into build/, print the results table, render the
#               book's website build/html/ (also when a chapter fails: its page shows where)
#   make test   set up .venv, run dlbook's unit tests and every chapter (pytest + nbval)
# and a third for readers:
#   make lab    set up .venv, start JupyterLab at the repository root (chapters/*.md open as notebooks)
# Useful variables: DLBOOK_MODE=fast|full, KERAS_BACKEND=tensorflow|jax|torch, DLBOOK_MIRROR=DIR.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dlbook-installed

.PHONY: setup book html test test-backends test-gpu-config lab clean

setup: $(STAMP)

# pip byte-compiles what it installs on one core (about 40 of its 90 s here); compileall does it on
# every core. Compiled ahead, since a Python run with PYTHONDONTWRITEBYTECODE=1 (as on this project's
# machines) would otherwise recompile each module it imports in every process. A file that does not
# compile is skipped, as pip skips it.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-compile -e ".[all]"
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true
	touch $@

book: setup
	status=0; $(BIN)/dlbook run all || status=$$?; $(BIN)/dlbook html || status=1; exit $$status

# The website from the notebooks already in build/ (no executing): build/html/index.html.
html: setup
	$(BIN)/dlbook html

test: setup
	$(BIN)/python -m pytest

# The chapters under the two other backends (slower; run before saying a chapter is done).
test-backends: setup
	KERAS_BACKEND=jax $(BIN)/python -m pytest chapters
	KERAS_BACKEND=torch $(BIN)/python -m pytest chapters

# Every chapter in fast mode in the GPU configuration (JAX, mixed_bfloat16), here on the CPU.
test-gpu-config: setup
	KERAS_BACKEND=jax DLBOOK_PRECISION=mixed_bfloat16 $(BIN)/python -m pytest chapters

# JupyterLab from the venv, rooted at the checkout; a double click on chapters/*.md opens the notebook:
# the venv's JupyterLab settings (dlbook/site/lab.py, written into $(VENV), never the home folder) make
# jupytext's notebook the default viewer of Markdown files and turn the news popup off.
# Kernels start in chapters/, so relative DLBOOK_* paths (DLBOOK_MIRROR=../shared/data) are made
# absolute first, as `dlbook run` does. More options: make lab LAB_OPTIONS="--no-browser --port 8890".
LAB_OPTIONS ?=
LAB_SETTINGS := $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json
START_LAB := import os, sys; from dlbook.paths import absolutize_path_variables; \
	absolutize_path_variables(); \
	os.execv(sys.executable, [sys.executable, "-m", "jupyter", "lab", *sys.argv[1:]])

$(LAB_SETTINGS): $(STAMP) dlbook/site/lab.py
	$(BIN)/python -m dlbook.site.lab >/dev/null

lab: setup $(LAB_SETTINGS)
	$(BIN)/python -c '$(START_LAB)' --ServerApp.root_dir="$(CURDIR)" $(LAB_OPTIONS)

clean:
	rm -rf build .pytest_cache
