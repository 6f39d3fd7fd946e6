# Two commands do all the set-up on a fresh machine (see README.md):
#   make demo   installs into .venv (when absent) and runs the bundled example checks, offline
#   make test   installs into .venv (when absent) and runs the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-pythons bench bytecode gpu-check clean system-deps

# bubblewrap confines the worker processes that run untrusted code.  Installed where we can
# (root with apt-get, as in CI); elsewhere the workers run with reduced isolation and say so.
system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null 2>&1 \
	      || echo "warning: could not install bubblewrap; workers will run with reduced isolation"; \
	  else \
	    echo "warning: bubblewrap is not installed (apt-get install bubblewrap); workers will run with reduced isolation"; \
	  fi; }

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

# pip compiles what it installs, but an editable install leaves our own packages as source, and
# where PYTHONDONTWRITEBYTECODE is set (as on CI images) every `sandbox check` would compile them
# again (0.1-0.3 s).  Stale bytecode is never used: Python checks each file's mtime.
bytecode:
	$(PY) -m compileall -q -j 0 sandbox verifiers properties models

demo: system-deps $(STAMP)
	$(PY) examples/01_policy_gate/demo.py

test: system-deps $(STAMP)
	$(PY) -m pytest

# The scalar, policy and pre-merge tests on pyenv's Python 3.12 and 3.13 (in .venv-3.12 and
# .venv-3.13, installed without torch/jax); an interpreter that is absent is skipped with a message.
test-pythons: system-deps
	$(PYTHON) scripts/test_pythons.py $(ARGS)

bench: $(STAMP)
	$(PY) bench/run.py
	$(PY) bench/verifiers.py
	$(PY) bench/kernels.py
	$(PY) bench/prover_fuzz.py 300 0
	$(PY) bench/coverage.py
	$(PY) bench/smt_share.py

# The kernel comparisons of the demos and tests on CUDA (both sides on the GPU against the
# float64 oracle, device branches taken both ways); skips with a message where no GPU is present.
gpu-check: $(STAMP)
	$(PY) scripts/gpu_check.py

clean:
	rm -rf $(VENV) build *.egg-info
	find sandbox verifiers properties models -name __pycache__ -prune -exec rm -rf {} +
