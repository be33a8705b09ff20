# fraudstream developer commands. `make test` is what CI runs; `make demo` arrives with the demo issue.
SHELL := /bin/bash
UV ?= uv
GOBIN ?= $(shell go env GOPATH 2>/dev/null)/bin
export PATH := $(CURDIR)/.venv/bin:$(GOBIN):$(PATH)
PROTO_OUT := libs/proto/src/fraudstream/v1

.PHONY: install generate check-generated lint test test-unit kafka-jars demo clean

install:  ## create .venv from uv.lock (exact versions)
	$(UV) sync --frozen

generate:  ## regenerate the fraudstream.v1 package from protos/ with buf
	rm -rf $(PROTO_OUT)
	buf generate
	printf '"""fraudstream.v1: generated protobuf messages and gRPC stubs (make generate; do not edit)."""\n' > $(PROTO_OUT)/__init__.py
	touch $(PROTO_OUT)/py.typed

check-generated: generate  ## fail when the committed stubs differ from protos/
	@git diff --exit-code --stat -- $(PROTO_OUT) && test -z "$$(git status --porcelain -- $(PROTO_OUT))" \
	  || { echo "generated code is out of date: run 'make generate' and commit"; exit 1; }

lint:  ## buf lint, ruff and mypy on handwritten code
	buf lint
	ruff check .
	ruff format --check .
	mypy libs/common/src libs/model/src cli/src services/*/src training/src tools

kafka-jars:  ## fetch the Kafka broker jars from Maven Central into the cache
	.venv/bin/fraudstream kafka fetch

test: check-generated lint  ## everything CI checks
	pytest

test-unit:  ## fast tests only (no broker, no subprocesses)
	pytest -m "not integration"

DEMO_ARGS ?=
UV_VERSION ?= 0.13.8
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

demo:  ## the whole pipeline on this machine, installing what is missing first (DEMO_ARGS="--rows 100000")
	@started=$$SECONDS; \
	step() { printf '\n==> %s\n' "$$*"; t=$$SECONDS; }; \
	done_step() { printf '    done in %ss\n' "$$((SECONDS - t))"; }; \
	step "system packages (JDK 17 for the broker, Maven for its jars)"; \
	missing=(); \
	command -v java >/dev/null || missing+=(openjdk-17-jdk-headless); \
	command -v mvn >/dev/null || missing+=(maven); \
	if (($${#missing[@]})); then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends "$${missing[@]}" || exit 1; \
	fi; \
	java -version 2>&1 | head -1; done_step; \
	step "Python environment from uv.lock"; \
	uv=$(UV); \
	if ! command -v $$uv >/dev/null; then \
	  python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)" || exit 1; \
	  uv="python3 -m uv"; \
	fi; \
	$$uv sync --frozen --quiet || exit 1; done_step; \
	step "Kafka broker jars (Maven Central)"; \
	.venv/bin/fraudstream kafka fetch || exit 1; done_step; \
	.venv/bin/fraudstream demo $(DEMO_ARGS); status=$$?; \
	printf '\nmake demo: %ss in all\n' "$$((SECONDS - started))"; \
	exit $$status

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache
