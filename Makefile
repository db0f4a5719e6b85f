# `make test` and `make demo` set everything up themselves in ./.venv.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: setup lint test demo demo-pretrain clean
QUICK ?=
SEEDS ?= 1

setup: $(STAMP)

$(STAMP): setup.py requirements.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[dev,export]' $(TORCH_PINS)
	$(PY) -m pip install -q --no-deps realesrgan==0.3.0  # compatibility tests run Real-ESRGAN's code on our basicsr
	touch $(STAMP)

# ruff lint + format check (rules and reasons in pyproject.toml); seconds, so `make test` runs it first.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Two pytest workers: many tests wait on subprocesses (torchrun, signals), and each worker uses one torch thread.
test: setup lint
	$(PY) -m pytest -q -n 2 tests

demo: setup
	$(PY) scripts/run_demo.py $(if $(filter-out 0 no false,$(QUICK)),--quick) --seeds $(SEEDS)

demo-pretrain: setup
	$(PY) scripts/run_demo.py --pretrain

clean:
	rm -rf $(VENV) .pytest_cache
