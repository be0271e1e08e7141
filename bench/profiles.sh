#!/usr/bin/env bash
# What each release-profile setting buys: builds the function once per variant of the
# profile (each in its own target directory, from scratch, timed) and runs the quick
# benchmark on each binary. About 6 minutes per variant on 2 cores.
#   bench/profiles.sh            all variants
#   bench/profiles.sh fat thin   some of them
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
cargo build --release --manifest-path bench/hello/Cargo.toml

# name: the profile settings that differ from Cargo.toml's [profile.release]
declare -A variants=(
  [chosen]=""
  [no-lto]="CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16"
  [thin]="CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16"
  [abort]="CARGO_PROFILE_RELEASE_PANIC=abort"
  [size]="CARGO_PROFILE_RELEASE_OPT_LEVEL=s"
)
mkdir -p target/profiles
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(chosen no-lto thin abort size)

for name in "${names[@]}"; do
  dir="target/profiles/$name"
  started=$(date +%s)
  # shellcheck disable=SC2086
  env ${variants[$name]} CARGO_TARGET_DIR="$dir" cargo build --release --locked --bin s3-alt-text >"$dir.log" 2>&1 \
    || { echo "$name: build failed, see $dir.log"; continue; }
  echo "== $name (${variants[$name]:-as in Cargo.toml}): built from scratch in $(( $(date +%s) - started )) s"
  .venv/bin/python bench/bench.py --quick --binary "$dir/release/s3-alt-text" | grep -E "^\| (init|critical|store|peak|release|zip)"
done
