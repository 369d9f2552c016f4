# make setup     - virtual environment in .venv with everything (app, training, tests):
#                  requirements-dev.txt (requirements.txt alone is what the Space installs)
# make app       - setup, then open the Gradio app on http://127.0.0.1:7860
# make test      - setup, then the default test suite (fast, CPU)
# make test-heavy- the opt-in tests: full-size model, live browser, DDP (see pytest markers)
# make lint      - ruff (pyflakes, import order, pycodestyle, line length 100; pyproject.toml)
#
# TORCH selects the PyTorch requirement. The default pins 2.13.0; on a CPU-only Linux box
# add TORCH_INDEX=https://download.pytorch.org/whl/cpu to avoid the CUDA build, on a GPU
# machine keep the default index (CUDA build).
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
RUFF ?= ruff==0.17.6
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup app test test-heavy lint bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

app: setup
	$(BIN)/python app.py

test: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

test-heavy: setup
	$(BIN)/python -m pytest -q -m "slow or browser"

$(BIN)/ruff:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(RUFF)"

lint: $(BIN)/ruff
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m dynast.bench

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
