# The two commands of the README:
#   make book   set up .venv, execute every chapter into build/, print the results table
#   make test   set up .venv, run dlbook's unit tests and every chapter (pytest + nbval)
# Useful variables: DLBOOK_MODE=fast|full, KERAS_BACKEND=tensorflow|jax|torch, DLBOOK_MIRROR=DIR.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dlbook-installed

.PHONY: setup book test test-backends clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[all]"
	touch $@

book: setup
	$(BIN)/dlbook run all

test: setup
	$(BIN)/python -m pytest

# The chapters under the two other backends (slower; run before saying a chapter is done).
test-backends: setup
	KERAS_BACKEND=jax $(BIN)/python -m pytest chapters
	KERAS_BACKEND=torch $(BIN)/python -m pytest chapters

clean:
	rm -rf build .pytest_cache
