# The course's commands. `make lab` and `make test` are the two a newcomer needs;
# each creates .venv on first use and reinstalls when pyproject.toml changes.
# (The student bundle has a Makefile of its own: tools/bundle/Makefile.)

# The interpreter .venv is built from (3.11 or newer): `make install PYTHON=python3.12`.
PYTHON ?= python3
# Where PyTorch comes from: empty for PyPI (on Linux the CUDA build, several GB with NVIDIA's
# libraries); `cpu` for the CPU-only build (about 180 MB) from https://download.pytorch.org/whl/cpu.
TORCH_INDEX ?=
# One lesson for `make check` / `make reset`, e.g. LESSON=01_fc_layers (check: default all).
LESSON ?=
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAB_SETTINGS := $(VENV)/.lab-settings

# Commands run by nbgrader itself (alembic, which creates a gradebook) come from .venv.
export PATH := $(abspath $(BIN)):$(PATH)

# Extra arguments, e.g. `make lab LAB_ARGS="--no-browser --port 8899"`
# or `make test PYTEST_ARGS="-k fc_layers"`.
LAB_ARGS    ?=
PYTEST_ARGS ?=

.PHONY: help install lab check reset test test-fast lint format hooks git-notebooks lessons check-lessons datasets bench gpu-check clean

help:
	@echo "make lab      install (first time) and open JupyterLab on the course (README.md first)"
	@echo "make check    score the lesson notebooks with their visible checks (LESSON=01_fc_layers: one)"
	@echo "make reset LESSON=01_fc_layers  put a lesson back as handed out (yours is kept in backups/)"
	@echo "make install  only install: PYTHON=python3.12 another interpreter, TORCH_INDEX=cpu the CPU-only PyTorch"
	@echo "make test     install (first time) and run the whole test suite"
	@echo "make test-fast  the suite without the slow notebook, pipeline and browser runs (a few minutes)"
	@echo "make lint     ruff: lint, and check the formatting (changes nothing)"
	@echo "make format   ruff: format the Python files and apply the safe fixes (not notebooks)"
	@echo "make hooks    install the git hooks of .pre-commit-config.yaml (ruff, nbstripout) in this clone"
	@echo "make lessons  regenerate lessons/ from solutions/ with nbgrader"
	@echo "make check-lessons  fail if lessons/ is not what solutions/ generates"
	@echo "make bench    NumPy LSTM/GRU vs torch; lesson 07 epoch time; grading: where a notebook's time goes, nbgrader autograde vs grade with 1/2 local and 1/2 Dask workers, kernels started when needed and ahead"
	@echo "make datasets rebuild datasets/ from their source packages"
	@echo "make gpu-check  on a CUDA machine: every CUDA test, every lesson's checks on CUDA, lessons 06-07 on the GPU (one table)"

install: $(STAMP)

# tools/install.sh: checks the interpreter's version, builds .venv (removed again if the install
# fails), installs the course with the test suite's tools, and applies tools/lab_settings.py.
# tools/system-packages.sh: Chromium (browser tests) and bubblewrap (grading sandbox) where it can.
$(STAMP): pyproject.toml
	bash tools/install.sh "$(PYTHON)" $(VENV) dev "$(TORCH_INDEX)"
	bash tools/system-packages.sh
	$(MAKE) --no-print-directory git-notebooks
	touch $(STAMP) $(LAB_SETTINGS)

# JupyterLab's settings again when tools/lab_settings.py changes (no reinstall).
$(LAB_SETTINGS): $(dir $(abspath $(firstword $(MAKEFILE_LIST))))tools/lab_settings.py | $(STAMP)
	$(BIN)/python $<
	touch $@

# In a git clone of the course (not in a student bundle), `git diff` and `git merge` of notebooks
# go through nbdime (.gitattributes names the drivers). The drivers are set in this clone's
# .git/config only, never the user's global config, by absolute path: git finds them without
# .venv on PATH.
IN_THIS_CLONE = $(filter $(CURDIR),$(shell git rev-parse --show-toplevel 2>/dev/null))
git-notebooks:
ifneq ($(IN_THIS_CLONE),)
	git config --local diff.jupyternotebook.command "$(abspath $(BIN))/git-nbdiffdriver diff"
	git config --local merge.jupyternotebook.driver "$(abspath $(BIN))/git-nbmergedriver merge %O %A %B %L %P"
	git config --local merge.jupyternotebook.name "jupyter notebook merge driver"
else
	@echo "not a git clone of the course: nbdime's git drivers not configured"
endif

# Opt-in git hooks (ruff, and nbstripout on solutions/ and lessons/), in this clone only.
hooks: $(STAMP)
	$(BIN)/pre-commit install

# tools/lab.sh (the conda route runs it too): the course root as the server's root, README.md as
# the start page, JupyterLab's terminal with this environment's python, and in this clone the
# extension that keeps a student's HTML inert (autograder/safe_html.py).
# The tools are looked for beside this Makefile and the course is the folder make runs in:
# the tests run `make -C COPY -f REPO/Makefile lab` on a copy of the course.
COURSE_DIR := $(dir $(abspath $(firstword $(MAKEFILE_LIST))))
lab: $(STAMP) $(LAB_SETTINGS)
	COURSE_ROOT="$(CURDIR)" bash $(COURSE_DIR)tools/lab.sh $(LAB_ARGS)

# The learner's self-check, for every lesson (or LESSON=...): exits non-zero below full marks.
LESSON_IDS = $(patsubst lessons/%/,%,$(wildcard lessons/[0-9][0-9]_*/))
check: $(STAMP)
	@status=0; for lesson in $(or $(LESSON),$(LESSON_IDS)); do \
		$(BIN)/python -m course check $$lesson || status=1; echo; done; exit $$status

reset: $(STAMP)
	@test -n "$(LESSON)" || { echo "say which lesson: make reset LESSON=01_fc_layers" >&2; exit 2; }
	$(BIN)/python -m course reset $(LESSON)

# Two test processes, a whole test file each (module fixtures grade a class once), and one
# BLAS/torch thread per process: with more threads than cores, torch's many tiny operations
# in the checks run many times slower (measured: 13 min for the suite this way on 2 cores).
TEST_PROCESSES ?= 2
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
test: $(STAMP)
	$(ONE_THREAD) $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

# Everything but the tests marked `slow` (nbgrader, class runs, kernels, servers, browsers;
# tests/conftest.py marks them): the unit, lesson and quick pipeline tests.
test-fast: $(STAMP)
	$(ONE_THREAD) $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile -m "not slow" $(PYTEST_ARGS)

# ruff's settings are in pyproject.toml. `lint` changes nothing. `format` applies the safe fixes
# and formats the Python files; it leaves notebooks to their authors (a fix there changes what
# lessons/ is generated from): `make lint` lists what is left in solutions/ to fix by hand.
lint: $(STAMP)
	$(BIN)/ruff check . ; checked=$$?; $(BIN)/ruff format --check . && exit $$checked

format: $(STAMP)
	$(BIN)/ruff check --fix --extend-exclude "*.ipynb" .
	$(BIN)/ruff format .

lessons: $(STAMP)
	$(BIN)/python -m autograder build

check-lessons: $(STAMP)
	$(BIN)/python -m autograder build --check

bench: $(STAMP)
	$(BIN)/python benchmarks/recurrent_layers.py
	$(BIN)/python benchmarks/text_generation_training.py
	$(BIN)/python benchmarks/grading.py

gpu-check: $(STAMP)
	$(BIN)/python -m autograder.gpu_check

datasets: $(STAMP)
	$(BIN)/python datasets/build.py

clean:
	rm -rf $(VENV) gradebook.db submitted autograded feedback grading tests/artifacts
