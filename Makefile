# Every target installs the project into .venv (created if missing) from its own files, then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow bench lint clean faces figures

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gaussequiv demo

lint: $(STAMP)
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# Optional paper-scale face generator (weights trained on a non-commercial-licence dataset; see spectra/faces.py).
faces: $(STAMP)
	$(PY) -m pip install --quiet --no-deps gan-face-generate==1.1.1

# The paper's figures (PNG + CSV + agreement statistics) into figures/; face-dcgan parts run if `make faces` was done.
figures: $(STAMP)
	for m in local_fields online_sgd learning_curves spectra; do $(PY) -m paper_figures.$$m --out figures || exit 1; done

bench: $(STAMP)
	for f in benchmarks/*_bench.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
