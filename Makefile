# GenreLab. `make run`: set up and open the dashboard. `make test`: set up and run the test suite
# (about 10 minutes on 2 cores); `make test-slow`: the slow checks it leaves out; CI runs both.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
PORT ?= 8501

.PHONY: install run test test-slow test-all lint bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	cp requirements.txt $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m streamlit run dashboard/app.py --server.port $(PORT)

test: install
	$(BIN)/python -m pytest -m "not slow"

# Tests marked `slow` (long trainings, every page's AppTest, the browser, Ray): not dropped, run here.
test-slow: install
	$(BIN)/python -m pytest -m slow

test-all: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
