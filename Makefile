# Build / render / validate toolchain for the function-platform composition function.
#
#   make tools            build the pinned Go tools into .tools/bin (cached, version-stamped)
#   make render-tools     only those render needs: the crossplane CLI and Crossplane core
#   make venv             create .venv from requirements.lock (+ editable install of the project)
#   make deps             check SHARED against deps/upstream.yaml, or download the pinned
#                         files and charts into .cache/upstream (docs/dependencies.md)
#   make deps-files       the same without the charts (what render reads; no helm)
#   make render           set up everything, render every example, check it against expected.yaml, validate
#                         (python -m harness.render, then python -m harness.validate)
#   make validate         validate the rendered output of every example (offline)
#   make test             ruff + mypy + pytest (unit, integration and the render e2e); needs no root
#   make package-test     build the packages (make package, root) and run the tests that read them
#   make e2e              the control-plane e2e: etcd, kube-apiserver, Crossplane core and the
#                         function on loopback (tests/controlplane; builds them with e2e-tools)
#   make e2e-tools        build etcd, kube-apiserver, kube-controller-manager, the OCI registry
#                         (distribution) and provider-kubernetes into .tools/bin
#   make update-examples  re-render and rewrite every examples/*/*/expected.yaml (same harness code)
#   make xrds (generate)  regenerate xrds/ etc. with `python -m generate`
#   make bench            run the RunFunction benchmark (python -m harness.bench)
#   make fuzz             the property-based fuzzing at a larger, random budget (FUZZ_EXAMPLES per kind)
#   make bench-compare    side by side with function-patch-and-transform (PNT=/path/to/binary,
#                         built from its source: see PNT in this Makefile)
#   make bench-scale      latency and memory with 10, 100, 500 composed/observed resources
#   make bench-loop       the whole reconcile loop in the e2e's control plane: 100 and 500 XRs
#                         to Synced and Ready, wall and CPU, against P&T (PNT=..., root,
#                         the packages of make package; python -m harness.loop)
#   make soak             1,000,000 mixed calls at concurrency 32 (SOAK_REQUESTS=...)
#   make bench-metrics    what the metrics hook costs per request (python -m harness.metrics_cost)
#   make bench-phases     CPU time of each phase of a composing call, and the serving floor
#                         (python -m harness.phases; BENCH_ARGS=--baseline before a change)
#   make bench-memory     one process's memory under 16 concurrent ~4 MB requests, and SIGTERM
#                         with 64 calls in flight (harness.memory, harness.drain)
#   make package          build the runtime image (linux/amd64, linux/arm64) and every xpkg into
#                         build/package (root, no Docker)
#                         REGISTRY=... VERSION=...: the packages' registry path and tag, for
#                         make generate and make package (defaults: pyproject.toml)
#   make clean            remove build products (keeps the Go module/build caches)
#
# The Python test harness (render, validate, bench, servers, request builders) is the
# harness/ package and the generators of the committed manifests are the generate/ package,
# both run from the project root and never shipped; hack/ holds the shell scripts only.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := render
MAKEFLAGS += --no-builtin-rules

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# A local copy of the upstream files deps/upstream.yaml pins (CRDs, schemas, charts), read-only;
# ../shared in CI. A relative SHARED is taken relative to the project root.
SHARED ?= ../shared
override SHARED := $(abspath $(if $(filter /%,$(SHARED)),$(SHARED),$(ROOT)/$(SHARED)))
export SHARED
# When $(SHARED)/crds does not exist, `make deps` downloads the pinned files and charts into
# this directory, with the same layout, and the test harness (harness/paths.py) falls back to it.
UPSTREAM_CACHE := $(ROOT)/.cache/upstream
DEPS = $(VENV_PY) -m harness.deps

# ---------------------------------------------------------------- Go tools
TOOLS_DIR := $(ROOT)/.tools
TOOLS_BIN := $(TOOLS_DIR)/bin
GO ?= go
# Versions come from tools/go.mod (the single place they are pinned).
CLI_MODULE := github.com/crossplane/cli/v2
CORE_MODULE := github.com/crossplane/crossplane/v2
CLI_VERSION := $(shell awk '$$1 == "$(CLI_MODULE)" { print $$2 }' $(ROOT)/tools/go.mod)
CORE_VERSION := $(shell awk '$$1 == "$(CORE_MODULE)" { print $$2 }' $(ROOT)/tools/go.mod)
CROSSPLANE := $(TOOLS_BIN)/crossplane
CROSSPLANE_CORE := $(TOOLS_BIN)/crossplane-core
export CROSSPLANE CROSSPLANE_CORE
# Tools outside tools/go.mod (their dependency graphs clash with Crossplane's),
# each installed from the Go module proxy at the version pinned here.
HELM_VERSION := v3.22.0
HELM := $(TOOLS_BIN)/helm
# promtool (Prometheus v3.16.0; the Go module is versioned v0.316.0) checks and tests the
# alert rules of install/monitoring.yaml.
PROMTOOL_VERSION := v0.316.0
PROMTOOL := $(TOOLS_BIN)/promtool
export PROMTOOL
# The front doors' checks (tests/frontdoors): KubeVela's CUE and the GitOps overlays.
CUE_VERSION := v0.17.1
CUE := $(TOOLS_BIN)/cue
KUSTOMIZE_VERSION := v5.8.0
KUSTOMIZE := $(TOOLS_BIN)/kustomize
export HELM CUE KUSTOMIZE
# crane assembles the runtime image (make package) from layer tarballs, without Docker.
CRANE_VERSION := v0.22.1
CRANE := $(TOOLS_BIN)/crane
export CRANE
# Backstage's own validators, scaffolder task runner, actions and templating (npm), pinned by
# tests/frontdoors/package-lock.json; reinstalled whenever package.json or the lock changes.
FRONTDOORS_JS := $(ROOT)/tests/frontdoors
FRONTDOORS_JS_STAMP := $(FRONTDOORS_JS)/node_modules/.stamp
# The benchmarks' load generator and peer (make bench-tools; not needed by make test).
GHZ_VERSION := v0.121.0
GHZ := $(TOOLS_BIN)/ghz
export GHZ
# The peer of bench-compare and bench-scale: PNT=/path/to/function-patch-and-transform, a
# binary built from a checkout of its source at PNT_VERSION (the Go module proxy does not
# serve it as a module to install):
#   git clone https://github.com/crossplane-contrib/function-patch-and-transform
#   cd function-patch-and-transform && git checkout v0.10.8
#   go build -o function-patch-and-transform .
PNT_VERSION := v0.10.8
PNT ?=
# bench-loop installs P&T as a Function package built from its package metadata and input
# CRD: the package/ folder of that checkout, by default beside PNT.
PNT_PACKAGE ?=
export PNT PNT_VERSION PNT_PACKAGE GHZ_VERSION
# The Crossplane image whose built-in CRDs `crossplane resource validate` wants;
# pre-seeded in the validate cache dir from $(SHARED)/crds/crossplane, never pulled.
export CROSSPLANE_IMAGE := xpkg.crossplane.io/crossplane/crossplane:$(CORE_VERSION)

# Both binaries report their version through crossplane-runtime's version package.
VERSION_VAR := github.com/crossplane/crossplane-runtime/v2/pkg/version.version

# The control plane of the e2e test (tests/controlplane), each from its own consumer module
# (tools/etcd, tools/kube-apiserver: their dependency graphs clash with Crossplane's and with
# each other's), versions pinned there.
ETCD_MODULE := go.etcd.io/etcd/server/v3
KUBE_MODULE := k8s.io/kubernetes
ETCD_VERSION := $(shell awk '$$1 == "require" && $$2 == "$(ETCD_MODULE)" { print $$3 }' $(ROOT)/tools/etcd/go.mod)
KUBE_VERSION := $(shell awk '$$1 == "require" && $$2 == "$(KUBE_MODULE)" { print $$3 }' $(ROOT)/tools/kube-apiserver/go.mod)
# The registry the e2e installs the packages from (tools/registry).
REGISTRY_MODULE := github.com/distribution/distribution/v3
REGISTRY_BIN_VERSION := $(shell awk '$$1 == "require" && $$2 == "$(REGISTRY_MODULE)" { print $$3 }' $(ROOT)/tools/registry/go.mod)
# The one provider the e2e runs for real (tools/provider-kubernetes).
PROVIDER_KUBERNETES_MODULE := github.com/crossplane-contrib/provider-kubernetes
PROVIDER_KUBERNETES_VERSION := $(shell awk '$$1 == "require" && $$2 == "$(PROVIDER_KUBERNETES_MODULE)" { print $$3 }' $(ROOT)/tools/provider-kubernetes/go.mod)
# kube-apiserver reports (and kube-controller-manager checks) the version it is built as.
KUBE_VERSION_VARS := $(foreach v,gitVersion=$(KUBE_VERSION) gitMajor=$(word 1,$(subst ., ,$(KUBE_VERSION:v%=%))) \
	gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))),-X=k8s.io/component-base/version.$(v))

# ---------------------------------------------------------------- Release
# Where the packages are pushed and their tag (docs/install.md). `python -m generate` names
# every package and package object from them (generate/release.py) and `make package` builds
# for them; the defaults are pyproject.toml's, which the committed generated files use.
REGISTRY ?= $(shell sed -n 's/^registry = "\(.*\)"$$/\1/p' $(ROOT)/pyproject.toml)
VERSION ?= v$(shell sed -n 's/^version = "\(.*\)"$$/\1/p' $(ROOT)/pyproject.toml)
RELEASE_ARGS = --registry $(REGISTRY) --version $(VERSION)

# ---------------------------------------------------------------- Python
PYTHON3 ?= python3
VENV := $(ROOT)/.venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.stamp
export PYTHON := $(VENV_PY)
RENDER_OUT := $(ROOT)/.cache/render

.PHONY: all tools render-tools tool-crossplane tool-crossplane-core tool-helm tool-promtool \
	tool-cue tool-kustomize tool-crane e2e-tools node-deps venv deps deps-files render validate \
	test lint typecheck pytest e2e e2e-render bench bench-metrics bench-memory bench-phases fuzz xrds generate ghz \
	bench-tools bench-compare bench-scale bench-loop soak postgresql package package-test update-examples \
	clean distclean help

all: render

help:
	@sed -n '3,34p' $(ROOT)/Makefile

# build_tool(binary, package, version): rebuild only if the binary is missing
# or its stamp does not name the pinned version (a tool of tools/go.mod).
build_tool = $(call build_module_tool,$(1),$(ROOT)/tools,$(2),$(3),-X=$(VERSION_VAR)=$(3))

# install_tool(binary, package, version): `go install package@version` into
# .tools/bin unless the binary's stamp already names that version.
define install_tool
	stamp=$(1).version; want="$(3)"; \
	if [[ -x $(1) && -f $$stamp && "$$(cat $$stamp)" == "$$want" ]]; then \
		echo "tools: $(notdir $(1)) $$want is up to date"; \
	else \
		echo "tools: installing $(notdir $(1)) ($(2)@$$want)"; \
		mkdir -p $(TOOLS_BIN); \
		GOBIN=$(TOOLS_BIN) $(GO) install -ldflags='-s -w' $(2)@$(3); \
		echo "$$want" > $$stamp; \
	fi
endef

# build_module_tool(binary, module dir, package, version, ldflags): build package from the
# consumer module in module dir (tools/, or its own under tools/ when its dependency graph
# clashes with the others) unless the binary's stamp names the version.
define build_module_tool
	stamp=$(1).version; want="$(4)"; \
	if [[ -x $(1) && -f $$stamp && "$$(cat $$stamp)" == "$$want" ]]; then \
		echo "tools: $(notdir $(1)) $$want is up to date"; \
	else \
		echo "tools: building $(notdir $(1)) ($(3) $$want)"; \
		mkdir -p $(TOOLS_BIN); \
		cd $(2) && GOFLAGS="$${GOFLAGS:-} -mod=mod" $(GO) build -ldflags='-s -w $(5)' -o $(1).tmp $(3); \
		mv -f $(1).tmp $(1); \
		echo "$$want" > $$stamp; \
	fi
endef

e2e-tools:
	@$(call build_module_tool,$(TOOLS_BIN)/etcd,$(ROOT)/tools/etcd,$(ETCD_MODULE),$(ETCD_VERSION),)
	@$(call build_module_tool,$(TOOLS_BIN)/kube-apiserver,$(ROOT)/tools/kube-apiserver,$(KUBE_MODULE)/cmd/kube-apiserver,$(KUBE_VERSION),$(KUBE_VERSION_VARS))
	@$(call build_module_tool,$(TOOLS_BIN)/kube-controller-manager,$(ROOT)/tools/kube-apiserver,$(KUBE_MODULE)/cmd/kube-controller-manager,$(KUBE_VERSION),$(KUBE_VERSION_VARS))
	@$(call build_module_tool,$(TOOLS_BIN)/registry,$(ROOT)/tools/registry,$(REGISTRY_MODULE)/cmd/registry,$(REGISTRY_BIN_VERSION),)
	@$(call build_module_tool,$(TOOLS_BIN)/provider-kubernetes,$(ROOT)/tools/provider-kubernetes,$(PROVIDER_KUBERNETES_MODULE)/cmd/provider,$(PROVIDER_KUBERNETES_VERSION),)

# Each target builds only the tools it runs: render the crossplane CLI and Crossplane core;
# the tests (make test) every one of them.
tools: render-tools tool-helm tool-promtool tool-cue tool-kustomize tool-crane

render-tools: tool-crossplane tool-crossplane-core

tool-crossplane:
	@$(call build_tool,$(CROSSPLANE),$(CLI_MODULE)/cmd/crossplane,$(CLI_VERSION))

tool-crossplane-core:
	@$(call build_tool,$(CROSSPLANE_CORE),$(CORE_MODULE)/cmd/crossplane,$(CORE_VERSION))

tool-helm:
	@$(call install_tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

tool-promtool:
	@$(call install_tool,$(PROMTOOL),github.com/prometheus/prometheus/cmd/promtool,$(PROMTOOL_VERSION))

tool-cue:
	@$(call install_tool,$(CUE),cuelang.org/go/cmd/cue,$(CUE_VERSION))

tool-kustomize:
	@$(call install_tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

tool-crane:
	@$(call install_tool,$(CRANE),github.com/google/go-containerregistry/cmd/crane,$(CRANE_VERSION))

node-deps: $(FRONTDOORS_JS_STAMP)

$(FRONTDOORS_JS_STAMP): $(FRONTDOORS_JS)/package.json $(FRONTDOORS_JS)/package-lock.json
	cd $(FRONTDOORS_JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV_STAMP)

$(VENV_STAMP): $(ROOT)/requirements.lock $(ROOT)/pyproject.toml
	test -x $(VENV_PY) || $(PYTHON3) -m venv $(VENV)
	$(VENV_PY) -m pip install --disable-pip-version-check -q -r $(ROOT)/requirements.lock
	$(VENV_PY) -m pip install --disable-pip-version-check -q --no-deps -e $(ROOT)
	touch $@

# The upstream files deps/upstream.yaml pins (docs/dependencies.md). A local copy given with
# SHARED= is checked against every pin, charts included, and used as it is: a difference fails
# here, before anything runs. Without one, what .cache/upstream lacks is downloaded there and
# checked the same way: files by URL, charts with `helm pull`. deps-files leaves the charts out
# (rendering and validation read none), so it needs no helm.
deps: venv
	@if [[ -d "$(SHARED)/crds" ]]; then \
		$(DEPS) verify $(SHARED); \
	else \
		echo "deps: $(SHARED)/crds not found; downloading into $(UPSTREAM_CACHE)"; \
		$(MAKE) --no-print-directory tool-helm; \
		$(DEPS) fetch --helm $(HELM) $(UPSTREAM_CACHE); \
	fi

deps-files: venv
	@if [[ -d "$(SHARED)/crds" ]]; then \
		$(DEPS) verify $(SHARED); \
	else \
		echo "deps: $(SHARED)/crds not found; downloading into $(UPSTREAM_CACHE)"; \
		$(DEPS) fetch --files-only $(UPSTREAM_CACHE); \
	fi

# The harness runs from the project root, so the function it serves is this checkout's.
render: render-tools venv deps-files
	rm -rf $(RENDER_OUT)
	cd $(ROOT) && $(VENV_PY) -m harness.render --check --out-dir $(RENDER_OUT)
	cd $(ROOT) && $(VENV_PY) -m harness.validate --rendered-dir $(RENDER_OUT)

validate: render-tools venv deps-files
	cd $(ROOT) && $(VENV_PY) -m harness.validate

update-examples: render-tools venv
	cd $(ROOT) && $(VENV_PY) -m harness.render --update --quiet

# ruff, and the import contracts of .importlinter (the layers of function/).
lint: venv
	$(VENV)/bin/ruff check $(ROOT)
	$(VENV)/bin/ruff format --check $(ROOT)
	cd $(ROOT) && $(VENV)/bin/lint-imports --no-cache

typecheck: venv
	@if grep -q '^\[tool\.mypy\]' $(ROOT)/pyproject.toml || [[ -x $(VENV)/bin/mypy ]]; then \
		echo "$(VENV)/bin/mypy --strict function harness generate"; \
		cd $(ROOT) && $(VENV)/bin/mypy --strict function harness generate; \
	else \
		echo "typecheck: mypy not configured; skipped"; \
	fi

# The control-plane e2e (tests/controlplane) is `make e2e`, its own CI step; the tests that
# read what `make package` built (marker `package`, tests/e2e/conftest.py) are
# `make package-test`, which needs root.
pytest: tools venv deps postgresql node-deps
	cd $(ROOT) && $(VENV_PY) -m pytest tests --ignore=tests/controlplane -m "not package"

# PostgreSQL server binaries for the Vault integration tests: installed from Debian's packages
# when missing and run as root (`sudo make postgresql`); without root, the tests that need
# them fail saying so.
postgresql:
	$(ROOT)/hack/ensure-postgresql.sh

test: tools venv deps postgresql node-deps
	@rc=0; \
	$(MAKE) --no-print-directory lint || rc=1; \
	$(MAKE) --no-print-directory typecheck || rc=1; \
	$(MAKE) --no-print-directory pytest || rc=1; \
	if (( rc )); then echo "test: FAILED (see above)"; else echo "test: all passed"; fi; \
	exit $$rc

# It installs the packages `make package` (root) wrote into $(PACKAGE_OUT), as CI builds them
# in make package-test just before.
# The Go tools' build time is measured here and printed in the run's time budget.
e2e: venv deps
	@ls $(PACKAGE_OUT)/*.xpkg >/dev/null 2>&1 || { echo "e2e: no packages in $(PACKAGE_OUT); run make package (root) first"; exit 1; }
	@start=$$(date +%s); $(MAKE) --no-print-directory tools e2e-tools; \
	cd $(ROOT) && E2E_TOOLS_SECONDS=$$(( $$(date +%s) - start )) $(VENV_PY) -m pytest tests/controlplane

# Only the render e2e (tests/e2e: every example through `crossplane composition render`);
# `make test` runs it too.
e2e-render: tools venv deps
	cd $(ROOT) && $(VENV_PY) -m pytest tests/e2e -m "not package"

# The runtime image (debootstrap, pip, crane; docs/image.md), the Function and the
# Configuration packages, for REGISTRY and VERSION.
PACKAGE_OUT := $(ROOT)/build/package
export PACKAGE_OUT
package: tool-crossplane tool-crane venv
	REGISTRY=$(REGISTRY) VERSION=$(VERSION) $(ROOT)/hack/build-packages.sh $(PACKAGE_OUT)

# What the packages hold and the image serving every example (tests/e2e/test_package.py);
# CI runs it after `make test`, before `make e2e`.
package-test: tools venv deps package
	cd $(ROOT) && $(VENV_PY) -m pytest tests/e2e/test_package.py -m package

# BENCH_ARGS: extra harness.bench arguments, e.g. "--server-arg=--metrics-port=9100 --out ...".
bench: venv
	cd $(ROOT) && $(VENV_PY) -m harness.bench $(BENCH_ARGS)

bench-metrics: venv
	cd $(ROOT) && $(VENV_PY) -m harness.metrics_cost --out bench/metrics-hook.md

# CPU time, so it may run on a busy machine (bench/phases.md says how much it skews).
bench-phases: venv
	cd $(ROOT) && $(VENV_PY) -m harness.phases --variants $(BENCH_ARGS)

# Benchmarks of the serving limits (docs/serving.md), run once on a quiet machine.
bench-memory: venv
	cd $(ROOT) && $(VENV_PY) -m harness.memory --out bench/memory.md
	cd $(ROOT) && $(VENV_PY) -m harness.drain --out bench/drain.md

# The suite runs tests/unit/test_fuzz.py with a small budget; this is the same test with a
# larger one. Both draw from a new seed each run unless FUZZ_SEED is set (FUZZ_SEED=<n>
# make fuzz replays a run; every failure prints that command and a reproduce blob).
FUZZ_EXAMPLES ?= 2000
fuzz: venv deps-files
	cd $(ROOT) && HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(VENV_PY) -m pytest tests/unit/test_fuzz.py -q -s -p no:cacheprovider

# ghz alone (the soak's load); bench-tools adds the P&T peer.
ghz:
	@$(call install_tool,$(GHZ),github.com/bojand/ghz/cmd/ghz,$(GHZ_VERSION))

bench-tools: ghz
	@if [[ -z "$(PNT)" ]]; then \
		echo "bench-tools: give PNT=/path/to/function-patch-and-transform, built from its"; \
		echo "source at $(PNT_VERSION) with go build (see PNT in the Makefile)"; exit 1; \
	elif [[ ! -x "$(PNT)" ]]; then echo "bench-tools: PNT=$(PNT) is not an executable"; exit 1; fi

bench-compare: venv bench-tools
	cd $(ROOT) && $(VENV_PY) -m harness.compare --pnt $(PNT)

bench-scale: venv bench-tools
	cd $(ROOT) && $(VENV_PY) -m harness.scale --pnt $(PNT)

# In the control plane of make e2e (its packages, tools and root); LOOP_ARGS: e.g. "--counts 100".
bench-loop: venv deps
	@ls $(PACKAGE_OUT)/*.xpkg >/dev/null 2>&1 || { echo "bench-loop: no packages in $(PACKAGE_OUT); run make package (root) first"; exit 1; }
	@[[ -x "$(PNT)" ]] || { echo "bench-loop: give PNT=/path/to/function-patch-and-transform (see PNT in the Makefile)"; exit 1; }
	@$(MAKE) --no-print-directory tools e2e-tools
	cd $(ROOT) && $(VENV_PY) -m harness.loop --pnt $(PNT) $(LOOP_ARGS)

SOAK_REQUESTS ?= 1000000
# SOAK_ARGS: e.g. "--composing --out bench/soak-composing.md" (every call composes).
soak: venv ghz
	cd $(ROOT) && $(VENV_PY) -m harness.soak --requests $(SOAK_REQUESTS) $(SOAK_ARGS)

xrds: venv
	cd $(ROOT) && $(VENV_PY) -m generate $(RELEASE_ARGS)

generate: xrds

clean:
	rm -rf $(ROOT)/.cache $(ROOT)/build $(ROOT)/dist $(ROOT)/.pytest_cache $(ROOT)/.mypy_cache $(ROOT)/.ruff_cache
	find $(ROOT) \( -path $(VENV) -o -path $(TOOLS_DIR) -o -path $(ROOT)/.git \) -prune \
		-o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also removes the built tools and the virtualenv.
distclean: clean
	rm -rf $(TOOLS_DIR) $(VENV)
