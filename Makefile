# make test / make demo / make bench each set up .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml setup.py src/npkeras/_kernels.c | $(PY)
	$(PY) -m pip install -q -e ".[test,plot,pandas,dist]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m npkeras demo

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	-$(PY) -m pip install -q keras jax || echo "Keras 3 / JAX did not install: that peer is skipped"
	$(PY) bench/run.py
	$(PY) bench/dist.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info src/npkeras/*.so .pytest_cache npkeras-demo
