#!/usr/bin/env bash
# Benchmark of the release build against the local stack (see bench/bench.py for what it
# measures). One command: bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
cargo build --release --locked
cargo build --release --manifest-path bench/hello/Cargo.toml
exec .venv/bin/python bench/bench.py
