#!/usr/bin/env bash
# Runs every test: unit tests, and the integration tests, which start their own moto
# server from .venv on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export MOTO_SERVER="$PWD/.venv/bin/moto_server"
cargo test --locked --all-targets "$@"
