#!/usr/bin/env bash
# Installs the local stack and the test tools: the project's Python virtual environment
# (.venv: SeaweedFS, moto, cfn-lint, the SAM translator, pytest, selenium), dynalite from
# its lockfile (scripts/dynalite/node_modules), and headless Chromium with its WebDriver from
# Debian's packages (chromium, chromium-driver) for the review page's browser test.
# `scripts/setup.sh deploy` adds cargo-lambda and the SAM CLI. Safe to run again: it only
# installs what is missing or changed.
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

# dynalite (DynamoDB), pinned by scripts/dynalite/package-lock.json; needs Node.js and npm.
lock_stamp=scripts/dynalite/node_modules/.package-lock.sha256
wanted=$(sha256sum scripts/dynalite/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$lock_stamp" 2>/dev/null)" != "$wanted" ]; then
  command -v npm >/dev/null || { echo "npm (Node.js) is needed for dynalite" >&2; exit 1; }
  npm ci --prefix scripts/dynalite --no-audit --no-fund --loglevel=error
  echo "$wanted" > "$lock_stamp"
fi
# Chromium and chromedriver (Debian's packages), for tests/browser.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "the browser test needs Chromium and its driver: sudo apt-get install chromium chromium-driver" >&2
    exit 1
  fi
fi
if [ "${1:-}" = "deploy" ]; then
  install scripts/requirements-deploy.txt
fi
