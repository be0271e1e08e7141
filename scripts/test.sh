#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests (the latter start their own local
# stack, SeaweedFS, dynalite and moto, on free ports: scripts/local_stack.py), the source
# structure check, the template checks (cfn-lint, the SAM transform and the template's
# least-privilege tests), the review page in headless Chromium (tests/browser), and the
# quick model-based soak (tests/it/soak; scripts/soak.sh for a long run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo test --locked --all-targets "$@" -- --skip soak::
# The quick model-based soak on its own, so that its load never slows a timed test.
cargo test --locked --test it "$@" soak:: -- --nocapture
.venv/bin/python scripts/check_structure.py
.venv/bin/python scripts/check_template.py
.venv/bin/python -m pytest -q tests/template tests/browser
