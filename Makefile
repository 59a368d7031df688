# Two entry points for a new user on a fresh Debian machine, as root:
#   make demo   sets everything up and runs the leaf-spine demo
#   make test   sets everything up and runs ruff, mypy and the whole test suite
# Both are idempotent: a second run reuses the venv and the installed packages.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEBS   := bird2 nftables iproute2 frr gobgpd
STAMP  := $(VENV)/.installed

.PHONY: demo test setup debs venv lint typecheck pytest bench clean-lab

demo: setup
	$(PY) -m pybgp.testing.demo

test: setup lint typecheck pytest

setup: debs $(STAMP)

# Debian packages the lab and the interop tests need; installed only when missing.
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(PY) -m pytest -q -p no:cacheprovider

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-lab: setup
	$(PY) -m pybgp.testing cleanup
