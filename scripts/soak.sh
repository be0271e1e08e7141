#!/usr/bin/env bash
# The model-based soak (tests/it/soak): a seeded random sequence of operations and faults
# on a few keys, through the binary on the local stack, checked against a model after each.
#   scripts/soak.sh [--ops N] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/.."
ops=1000
seed=20261207
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) ops=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: scripts/soak.sh [--ops N] [--seed S]" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
SOAK_OPS=$ops SOAK_SEED=$seed cargo test --locked --test it soak:: -- --nocapture
