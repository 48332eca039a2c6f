# onetrench — two commands: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup system demo test serve bench clean

setup: system $(VENV)/.installed

system:
	@bash scripts/setup-system.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: setup
	$(BIN)/onetrench demo

test: setup
	bash scripts/test.sh

serve: setup
	$(BIN)/onetrench serve

bench: setup
	$(BIN)/python bench/overlap.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/maps.py

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache onetrench.sqlite
