# fraudstream developer commands: `make demo` runs the pipeline, `make test` is what CI runs.
# Both install what is missing first (tools/bootstrap.sh), so they work on a fresh clone.
SHELL := /bin/bash
# Go's default GOPATH when go itself is not installed yet (bootstrap installs it).
GOBIN ?= $(or $(shell go env GOPATH 2>/dev/null),$(HOME)/go)/bin
export GOBIN
# Where tools/bootstrap.sh installs uv when the machine has none (the user's site, ~/.local/bin):
# tests that build the service images' environments call it by name.
USER_BIN := $(shell python3 -m site --user-base 2>/dev/null || echo $(HOME)/.local)/bin
export PATH := $(CURDIR)/.venv/bin:$(GOBIN):$(PATH):$(USER_BIN)
PROTO_OUT := libs/proto/src/fraudstream/v1
# The released contract `buf breaking` compares against (make contract-release writes it).
CONTRACT_TAG := contract-v1.0.0
CONTRACT_IMAGE := protos/releases/v1.0.0.binpb
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: deps install generate check-generated breaking contract-release lint kafka-jars \
	test test-unit demo clean

deps:  ## install what `make test` needs and is missing (apt, uv + .venv, buf, grpcurl, Kafka jars)
	tools/bootstrap.sh test

install:  ## create .venv from uv.lock (exact versions)
	uv sync --frozen

generate:  ## regenerate the fraudstream.v1 package from protos/ with buf (swapped in on success)
	@command -v buf >/dev/null || { echo "buf is not installed: run 'make deps'"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	buf generate -o "$$tmp" && \
	printf '"""fraudstream.v1: generated protobuf messages and gRPC stubs (make generate; do not edit)."""\n' \
	  > "$$tmp/$(PROTO_OUT)/__init__.py" && \
	touch "$$tmp/$(PROTO_OUT)/py.typed" && \
	rm -rf $(PROTO_OUT) && mv "$$tmp/$(PROTO_OUT)" $(PROTO_OUT)

check-generated: generate  ## fail when the committed stubs differ from protos/
	@git diff --exit-code --stat -- $(PROTO_OUT) && test -z "$$(git status --porcelain -- $(PROTO_OUT))" \
	  || { echo "generated code is out of date: run 'make generate' and commit"; exit 1; }

# Against a committed image rather than '.git#tag=...': it works in shallow clones, clones
# without tags and source archives, offline. Where the tag is present, the image must match it.
breaking:  ## fail on a change of protos/ that breaks the released contract ($(CONTRACT_IMAGE))
	@if git rev-parse -q --verify 'refs/tags/$(CONTRACT_TAG)' >/dev/null; then \
	  tmp=$$(mktemp) && trap 'rm -f "$$tmp"' EXIT && \
	  buf build '.git#tag=$(CONTRACT_TAG)' -o "$$tmp.binpb" && \
	  cmp -s "$$tmp.binpb" $(CONTRACT_IMAGE) && rm -f "$$tmp.binpb" \
	  || { echo "$(CONTRACT_IMAGE) differs from tag $(CONTRACT_TAG)"; rm -f "$$tmp.binpb"; exit 1; }; \
	fi
	buf breaking --against $(CONTRACT_IMAGE)

contract-release:  ## write $(CONTRACT_IMAGE) from the git tag $(CONTRACT_TAG) (once per release)
	buf build '.git#tag=$(CONTRACT_TAG)' -o $(CONTRACT_IMAGE)

lint:  ## buf lint, ruff and mypy on handwritten code
	buf lint
	ruff check .
	ruff format --check .
	mypy libs/common/src libs/model/src cli/src services/*/src training/src tools

kafka-jars:  ## fetch the Kafka broker jars from Maven Central into the cache
	.venv/bin/fraudstream kafka fetch

test:  ## everything CI checks, installing what is missing first (PYTEST_ARGS="-m 'not integration'")
	@started=$$SECONDS; trap 'printf "\nmake test: %ss in all\n" "$$((SECONDS - started))"' EXIT; \
	for target in deps check-generated breaking lint; do \
	  t=$$SECONDS; printf '\n==> make %s\n' "$$target"; \
	  $(MAKE) --no-print-directory "$$target" || exit 1; \
	  printf '    make %s: %ss\n' "$$target" "$$((SECONDS - t))"; \
	done; \
	t=$$SECONDS; printf '\n==> pytest %s\n' "$(PYTEST_ARGS)"; \
	pytest $(PYTEST_ARGS); status=$$?; \
	printf '    pytest: %ss\n' "$$((SECONDS - t))"; exit $$status

test-unit:  ## fast tests only (no broker, no subprocesses)
	pytest -m "not integration"

demo:  ## the whole pipeline on this machine, installing what is missing first (DEMO_ARGS="--rows 100000")
	@started=$$SECONDS; \
	tools/bootstrap.sh demo || exit 1; \
	.venv/bin/fraudstream demo $(DEMO_ARGS); status=$$?; \
	printf '\nmake demo: %ss in all\n' "$$((SECONDS - started))"; \
	exit $$status

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache
