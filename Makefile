# fraudstream developer commands. `make test` is what CI runs; `make demo` arrives with the demo issue.
SHELL := /bin/bash
UV ?= uv
GOBIN ?= $(shell go env GOPATH 2>/dev/null)/bin
export PATH := $(CURDIR)/.venv/bin:$(GOBIN):$(PATH)
PROTO_OUT := libs/proto/src/fraudstream/v1

.PHONY: install generate check-generated lint test test-unit kafka-jars clean

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

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache
