#!/usr/bin/env bash
# The model-based soak (tests/it/soak): a seeded random sequence of operations and faults
# on a few keys, through the binary on the local stack, checked against a model after each.
#   scripts/soak.sh [--ops N] [--seed S]
# It runs copies of the test binary and the function's binary, so that the tree can be
# rebuilt while a long run goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
ops=10000
seed=20261207
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) ops=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: scripts/soak.sh [--ops N] [--seed S]" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
it=$(cargo test --locked --test it --no-run --message-format=json \
  | .venv/bin/python -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "it" and m.get("executable"):
        print(m["executable"])')
cargo build --locked
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
cp "$it" "$keep/it"
cp "${CARGO_TARGET_DIR:-target}/debug/s3-alt-text" "$keep/s3-alt-text"
S3_ALT_TEXT_BIN="$keep/s3-alt-text" SOAK_OPS=$ops SOAK_SEED=$seed "$keep/it" soak:: --nocapture
