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

.PHONY: help install lab test lessons check-lessons datasets bench gpu-check clean

help:
	@echo "make lab      install (first time) and open JupyterLab on lessons/"
	@echo "make test     install (first time) and run the whole test suite"
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
	touch $@

# JupyterLab refuses to run as root (containers, CI) unless told to.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# The server runs from the course root so that nbgrader's Validate button and the
# formgrader find nbgrader_config.py; the browser opens on lessons/.
# The instructor's course (not the student bundle, which has no autograder/) adds the
# extension that keeps a student's HTML inert in the formgrader and JupyterLab.
SAFE_HTML := $(if $(wildcard autograder/safe_html.py),--ServerApp.jpserver_extensions=autograder.safe_html=True,)
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/lessons $(SAFE_HTML) $(ALLOW_ROOT) $(LAB_ARGS)

# Two test processes, a whole test file each (module fixtures grade a class once), and one
# BLAS/torch thread per process: with more threads than cores, torch's many tiny operations
# in the checks run many times slower (measured: 13 min for the suite this way on 2 cores).
TEST_PROCESSES ?= 2
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

lessons: $(STAMP)
	$(BIN)/python -m autograder build

check-lessons: $(STAMP)
	$(BIN)/python -m autograder build --check

bench: $(STAMP)
	$(BIN)/python benchmarks/recurrent_layers.py
	$(BIN)/python benchmarks/text_generation_training.py
	$(BIN)/python benchmarks/grading.py

gpu-check: $(STAMP)
	$(BIN)/python tools/gpu_check.py

datasets: $(STAMP)
	$(BIN)/python datasets/build.py

clean:
	rm -rf $(VENV) gradebook.db submitted autograded feedback grading tests/artifacts
