#!/usr/bin/env sh
# Installs helm v3.22.0 into $(go env GOPATH)/bin with `go install` (a few minutes the first time).
# The ldflags are the ones helm's own Makefile sets: without them a `go install`ed helm reports
# version "v3.22" and assumes Kubernetes 1.20, below the chart's kubeVersion (client-go v0.37
# means Kubernetes 1.37 in helm's release builds).
set -eu
PKG=helm.sh/helm/v3
exec go install -ldflags "-s -w \
  -X $PKG/internal/version.version=v3.22.0 \
  -X $PKG/pkg/lint/rules.k8sVersionMajor=1 -X $PKG/pkg/lint/rules.k8sVersionMinor=37 \
  -X $PKG/pkg/chartutil.k8sVersionMajor=1 -X $PKG/pkg/chartutil.k8sVersionMinor=37" \
  "$PKG/cmd/helm@v3.22.0"
