# Flink SQL Studio: every entry point. `make demo` deploys, `make test` is what CI runs.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/.cache/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup tools cluster-up cluster-down demo test test-day2 lint unit bench changelog ee clean

setup:  ## Python venv with pinned tools; the repo linked as collection flinksql.studio
	bash hack/setup.sh

tools: setup  ## kube-apiserver & co, etcd, kwok, helm built from the Go module proxy (cached)
	bash hack/build-tools.sh

cluster-up: tools  ## local control plane on 127.0.0.1; admin kubeconfig in .cluster/kubeconfig
	bash hack/cluster-up.sh

cluster-down:  ## stops the demo's local services and every process cluster-up started, removes its state
	-[ -x $(BIN)/python ] && $(BIN)/python hack/local_services.py stop
	bash hack/cluster-down.sh

demo: setup  ## deploy the studio (KUBECONFIG=... for a real cluster; else the local control plane)
	bash hack/demo.sh

lint: setup
	bash hack/lint.sh

unit: setup
	$(BIN)/pytest tests/unit

test: setup  ## the whole suite: lint, sanity, unit, manifests, control plane, molecule, real gateway
	bash hack/test.sh

test-day2: setup  ## only the day-2 and fault tests (upgrade, new tenant, teardown, API server loss); part of `make test`
	$(BIN)/pytest tests/integration/test_day2.py tests/integration/test_teardown.py

bench: setup
	bash hack/bench.sh

changelog: setup  ## lint the changelog fragments and preview the release notes
	bash hack/changelog.sh lint

ee: setup  ## ansible-builder build context for the AWX execution environment
	bash hack/ee.sh

clean: cluster-down
	rm -rf .cache .cluster
