# The course's commands. `make lab` and `make test` are the two a newcomer needs;
# each creates .venv on first use and reinstalls when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Commands run by nbgrader itself (alembic, which creates a gradebook) come from .venv.
export PATH := $(abspath $(BIN)):$(PATH)

# Extra arguments, e.g. `make lab LAB_ARGS="--no-browser --port 8899"`
# or `make test PYTEST_ARGS="-k fc_layers"`.
LAB_ARGS    ?=
PYTEST_ARGS ?=

.PHONY: help install lab test test-fast lint format hooks git-notebooks lessons check-lessons datasets bench gpu-check clean

help:
	@echo "make lab      install (first time) and open JupyterLab on lessons/"
	@echo "make test     install (first time) and run the whole test suite"
	@echo "make test-fast  the suite without the slow notebook, pipeline and browser runs (a few minutes)"
	@echo "make lint     ruff: lint, and check the formatting (changes nothing)"
	@echo "make format   ruff: format the Python files and apply the safe fixes (not notebooks)"
	@echo "make hooks    install the git hooks of .pre-commit-config.yaml (ruff, nbstripout) in this clone"
	@echo "make lessons  regenerate lessons/ from solutions/ with nbgrader"
	@echo "make check-lessons  fail if lessons/ is not what solutions/ generates"
	@echo "make bench    NumPy LSTM/GRU vs torch; lesson 07 epoch time; grading 20 submissions (1 and 2 workers, sandbox on/off)"
	@echo "make datasets rebuild datasets/ from their source packages"
	@echo "make gpu-check  on a CUDA machine: every CUDA test, every lesson's checks on CUDA, lessons 06-07 on the GPU (one table)"

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	bash tools/system-packages.sh
	@# Learners work without nbgrader's exchange: hide the pieces that need one
	@# (they would only show errors), keep Validate and the instructor's formgrader.
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader:assignment-list
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader:course-list
	$(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.assignment_list
	$(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.course_list
	$(MAKE) --no-print-directory git-notebooks
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

# JupyterLab refuses to run as root (containers, CI) unless told to.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# The server runs from the course root so that nbgrader's Validate button and the
# formgrader find nbgrader_config.py; the browser opens on lessons/.
# The instructor's course (not the student bundle, which has no autograder/) adds the
# extension that keeps a student's HTML inert in the formgrader and JupyterLab.
# (Looked for beside this Makefile: the tests run it with -C on a copy of the course.)
COURSE_DIR := $(dir $(abspath $(firstword $(MAKEFILE_LIST))))
SAFE_HTML := $(if $(wildcard $(COURSE_DIR)autograder/safe_html.py),--ServerApp.jpserver_extensions=autograder.safe_html=True,)
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/lessons $(SAFE_HTML) $(ALLOW_ROOT) $(LAB_ARGS)

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
