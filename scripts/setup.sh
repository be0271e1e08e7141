#!/usr/bin/env bash
# Creates the project's Python virtual environment (.venv) with the local stack's tools
# (moto, cfn-lint, the SAM translator, pytest). `scripts/setup.sh deploy` adds cargo-lambda
# and the SAM CLI. Safe to run again: it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi

install() {
  local requirements=$1
  local stamp=".venv/.$(basename "$requirements").sha256"
  local wanted
  wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
  fi
}

install scripts/requirements.txt
if [ "${1:-}" = "deploy" ]; then
  install scripts/requirements-deploy.txt
fi
