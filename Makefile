# Every target bootstraps .venv itself: a fresh machine needs only python3 (3.10+) and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help install test book release grade bench clean

help:
	@echo "make test      run the whole test suite (fast mode)"
	@echo "make book      build the website into _build/html"
	@echo "make release   regenerate chapters/ from solutions/"
	@echo "make grade SUBMISSIONS=dir OUT=dir   grade a class"
	@echo "make bench     run the benchmarks"

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[course]"
	touch $(STAMP)

test: $(STAMP)
	VAELAB_FAST=1 $(PY) -m pytest

book: $(STAMP)
	$(PY) -m autograder book
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

release: $(STAMP)
	$(PY) -m autograder release

grade: $(STAMP)
	$(PY) -m autograder grade $(SUBMISSIONS) --out $(OUT)

bench: $(STAMP)
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf _build book/_generated
