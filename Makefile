# Compression Lab: `make lab` opens the suite, `make test` runs every test,
# `make present` serves the notebooks as code-free apps for a lecture (Voila).
# Both create the virtual environment .venv/ on first use (Python >= 3.10 needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8888
PRESENT_PORT ?= 8866
# JupyterLab refuses to run as root (containers, CI) unless told.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test bench present clean nbstripout-filter

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install when the package's dependencies change. The lab overrides switch off the
# "Jupyter news?" prompt and update checks (nothing to click away in front of a class) and
# keep widget messages off kernel subshells: otherwise ipympl draws while a cell runs, and
# matplotlib, which is not thread-safe, can fail with a ParseException (ipympl#610).
# tools/voila.py is lecture mode's configuration (compresslab/lecture.py), read by Voila
# from the environment's etc/jupyter folder.
$(VENV)/.installed: pyproject.toml tools/lab-overrides.json tools/voila.py | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	mkdir -p $(VENV)/share/jupyter/lab/settings $(VENV)/etc/jupyter
	cp tools/lab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	cp tools/voila.py $(VENV)/etc/jupyter/voila.py
	touch $@

# Running a notebook must not leave `git status` dirty: nbstripout's git filter commits
# notebooks without outputs, cell ids kept as committed (only in a git checkout; elsewhere there
# is nothing to do).
nbstripout-filter: $(VENV)/.installed
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
		$(BIN)/nbstripout --install && \
		git config filter.nbstripout.clean '"$(CURDIR)/$(BIN)/python" -m nbstripout --keep-id'; fi

lab: $(VENV)/.installed nbstripout-filter  ## open JupyterLab on the introduction notebook (localhost, with a token)
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) --no-browser $(ROOT_FLAG) \
		--ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks/00_introduction.ipynb

# One pytest run: the tests in a random order (pytest-randomly; the seed is printed in the
# header, rerun it with ARGS="-p randomly --randomly-seed=N", or file order with ARGS="-p no:randomly"),
# the browser tests last and in file order (tests/conftest.py). No test asserts a time: the
# speed targets are in `make bench` (notebooks: python -m compresslab.bench --notebooks).
test: $(VENV)/.installed  ## every test: library, notebooks, dashboards, browser
	$(BIN)/python -m pytest $(ARGS)

bench: $(VENV)/.installed  ## speed numbers (python -m compresslab.bench)
	$(BIN)/python -m compresslab.bench

present: $(VENV)/.installed  ## lecture mode: the notebooks as apps, code hidden (Voila, localhost, with a token)
	$(BIN)/voila notebooks/ --no-browser --Voila.ip=127.0.0.1 --port=$(PRESENT_PORT) --token

clean:
	rm -rf $(VENV) artifacts .pytest_cache
