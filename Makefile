# make test / make demo / make bench each set up .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint clean fuzz

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml setup.py src/npkeras/_kernels.c | $(PY)
	$(PY) -m pip install -q -e ".[test,parity,plot,pandas,dist]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

# ruff: pycodestyle, pyflakes, import order, 100 columns, and only backend.py imports NumPy
lint: $(STAMP)
	$(PY) -m ruff check src tests bench

demo: $(STAMP)
	$(PY) -m npkeras demo

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	-$(PY) -m pip install -q keras jax || echo "Keras 3 / JAX did not install: that peer is skipped"
	$(PY) bench/run.py
	$(PY) bench/dist.py

# The model-file fuzzer (tests/saving/fuzz.py; make test runs 3,000 mutations): a longer
# mutation run, then a coverage-guided run with atheris where it installs.
FUZZ_COUNT ?= 50000
FUZZ_ATHERIS_RUNS ?= 20000
fuzz: $(STAMP)
	$(PY) -m tests.saving.fuzz --count $(FUZZ_COUNT) --seed 1
	-$(PY) -m pip install -q -e ".[fuzz]" || echo "atheris did not install: only the mutation fuzzer ran"
	if $(PY) -c "import atheris" 2>/dev/null; then \
		$(PY) -m tests.saving.fuzz --atheris -runs=$(FUZZ_ATHERIS_RUNS) -max_len=512; fi

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info src/npkeras/*.so .pytest_cache npkeras-demo
