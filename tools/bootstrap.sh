#!/usr/bin/env bash
# Installs what `make demo` (profile demo) or `make test` (profile test) needs and is missing.
#
#   tools/bootstrap.sh demo   # JDK 17 + Maven (apt), uv + .venv from uv.lock, Kafka broker jars
#   tools/bootstrap.sh test   # the same, plus Go, promtool, docker-compose, chromium (apt), buf, grpcurl, helm
#
# The one place these steps live: `make deps` / `make demo` and, through `make test`, .ci/run.
# Every step is skipped when its tool is already there, so a second run takes seconds.
# Not root: apt-get runs through sudo. Every step prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${1:-test}
case "$PROFILE" in demo | test) ;; *) echo "usage: $0 [demo|test]" >&2; exit 2 ;; esac

# Pinned versions (buf and grpcurl are installed with `go install MODULE@VERSION`).
UV_VERSION=0.13.8
BUF_VERSION=v1.75.0
GRPCURL_VERSION=v1.9.4

step() { printf '==> %s\n' "$*"; STEP_STARTED=$SECONDS; }
done_step() { printf '    done in %ss\n' "$((SECONDS - STEP_STARTED))"; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

step "system packages ($PROFILE)"
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)  # the Kafka broker
command -v mvn >/dev/null || missing+=(maven)                      # fetches the broker jars
if [ "$PROFILE" = test ]; then
  command -v git >/dev/null || missing+=(git)
  command -v go >/dev/null || missing+=(golang-go)                 # installs buf and grpcurl
  command -v promtool >/dev/null || missing+=(prometheus)          # rules, alerts, scrapes
  command -v docker-compose >/dev/null || missing+=(docker-compose)  # compose.yaml validation
  command -v chromium >/dev/null || missing+=(chromium)            # the console's browser tests
fi
if ((${#missing[@]})); then
  echo "    apt-get install ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
done_step

step "Python environment (.venv) from uv.lock"
uv=$(command -v uv || true)
if [ -z "$uv" ]; then
  # Debian's Python is externally managed: uv goes to the user's site (~/.local/bin), installed
  # by the system's python3, never the project's .venv (which make puts first on PATH).
  for python in $(type -ap python3); do
    case "$python" in "$PWD"/.venv/*) ;; *) break ;; esac
  done
  uv="$("$python" -m site --user-base)/bin/uv"
  [ -x "$uv" ] || "$python" -m pip install --quiet --disable-pip-version-check --user \
    --break-system-packages "uv==${UV_VERSION}"
fi
"$uv" sync --frozen --quiet
done_step

if [ "$PROFILE" = test ]; then
  step "buf ${BUF_VERSION} and grpcurl ${GRPCURL_VERSION} (go install)"
  export GOBIN="${GOBIN:-$(go env GOPATH)/bin}"
  go_tool() {  # go_tool BINARY MODULE VERSION: install unless that exact version is there
    go version -m "$GOBIN/$1" 2>/dev/null | grep -qE "^\s+mod\s+$2\s+$3\s" \
      || go install "$2/cmd/$1@$3"
  }
  go_tool buf github.com/bufbuild/buf "$BUF_VERSION"
  go_tool grpcurl github.com/fullstorydev/grpcurl "$GRPCURL_VERSION"
  echo "    buf $("$GOBIN/buf" --version 2>&1) and grpcurl in $GOBIN"
  done_step

  step "helm v3.22.0 (go install, for the chart's lint and template tests)"
  "$GOBIN/helm" version --short 2>/dev/null | grep -q '^v3.22.0' || sh tools/install-helm.sh
  done_step
fi

step "Kafka broker jars (Maven Central, cached in ~/.m2)"
.venv/bin/fraudstream kafka fetch
done_step

if [ "$PROFILE" = test ]; then
  step "Flink (PyFlink venv from flink/requirements.txt with hashes, Kafka SQL connector jar)"
  .venv/bin/fraudstream flink install
  done_step
fi
