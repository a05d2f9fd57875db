# Every target bootstraps .venv itself: a fresh machine needs only python3 (3.10+) and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# One thread per process. The course's networks are small: one thread runs a VAE step in 6-8 ms
# steadily, while two threads, faster on an idle machine (about 4 ms), were measured up to 30x
# slower whenever another process held a core of the 2-core course machines; and the grader runs
# one notebook per core. Override with `make test OMP_NUM_THREADS=2`.
OMP_NUM_THREADS ?= 1
export OMP_NUM_THREADS

.PHONY: help install test book book-instructor release grade bench clean solutions

help:
	@echo "make test      lint (ruff), then run the whole test suite (fast mode)"
	@echo "make book      build the website into _build/html"
	@echo "make book-instructor  the instructor edition, with the solutions, into _build/instructor/html"
	@echo "make release   regenerate chapters/ from solutions/"
	@echo "make solutions re-run solutions/*.ipynb in fast mode, storing the outputs nbval checks"
	@echo "make grade SUBMISSIONS=dir OUT=dir   grade a class"
	@echo "make bench     run the benchmarks"

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[course,db]"
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	VAELAB_FAST=1 $(PY) -m pytest

# Notebooks executed at once by `make book` (one core each, see OMP_NUM_THREADS above).
BOOK_JOBS ?= $(shell nproc 2>/dev/null || echo 1)

book: $(STAMP)
	$(PY) -m autograder book --jobs $(BOOK_JOBS)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

# The instructor edition: the same book with the executed solution notebooks (solutions and hidden
# tests shown). Never publish it. Its toc and config are derived from _toc.yml and _config.yml.
INSTRUCTOR := book/_generated_instructor
book-instructor: $(STAMP)
	$(PY) -m autograder book --instructor --out $(INSTRUCTOR) --jobs $(BOOK_JOBS)
	$(VENV)/bin/jupyter-book build . --toc $(INSTRUCTOR)/_toc.yml --config $(INSTRUCTOR)/_config.yml \
	  --path-output _build/instructor -W -n --keep-going
	ln -sfn _build/html _build/instructor/html

release: $(STAMP)
	$(PY) -m autograder release

# The outputs stored in the solution notebooks are what nbval compares a fresh fast-mode run with.
solutions: $(STAMP)
	cd solutions && for nb in *.ipynb; do \
	  VAELAB_FAST=1 ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.record_timing=False "$$nb" || exit 1; done

grade: $(STAMP)
	$(PY) -m autograder grade $(SUBMISSIONS) --out $(OUT)

bench: $(STAMP)
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf _build book/_generated book/_generated_instructor
