#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), FUZZ_JOBS at a time (default 2,
# one per core), and prints the figures libFuzzer reports (runs, coverage, crashes).
# Installs cargo-fuzz if missing.
# Seeds: the sample events, the sample images and a few captions.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(event_parsing key_decoding tag_sanitizing xmp_reading)
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz passes unstable flags (sanitizers, coverage) to rustc; the stable toolchain
# accepts them when told to.
export RUSTC_BOOTSTRAP=1

mkdir -p fuzz/corpus/event_parsing fuzz/corpus/xmp_reading fuzz/corpus/tag_sanitizing fuzz/corpus/key_decoding
cp -f events/*.json fuzz/corpus/event_parsing/
cp -f samples/*.jpg samples/*.png samples/*.webp fuzz/corpus/xmp_reading/
printf '%s' "A cup of café crème, on a \"wooden\" table!" > fuzz/corpus/tag_sanitizing/caption
printf '%s' "I'm sorry, I can't describe this image." > fuzz/corpus/tag_sanitizing/refusal
printf '%s' "uploads/%C3%A9t%C3%A9/caf%C3%A9+cr%C3%A8me.jpg" > fuzz/corpus/key_decoding/key
printf '%s' "0055AED6DCD90281E5,0055AED6DCD90281E" > fuzz/corpus/key_decoding/sequencers

cargo fuzz build 2>&1 | tail -1
mkdir -p target/fuzz-logs
run() {
  local t="$1" status=0
  # Findings of this run only: earlier ones are kept aside.
  if [ -d "fuzz/artifacts/$t" ] && [ -n "$(ls -A "fuzz/artifacts/$t")" ]; then
    mkdir -p "fuzz/artifacts/earlier/$t"
    mv "fuzz/artifacts/$t"/* "fuzz/artifacts/earlier/$t/"
  fi
  cargo fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$seconds" -print_final_stats=1 \
    > "target/fuzz-logs/$t.log" 2>&1 || status=$?
  echo "$t: exit $status"
}
pids=()
for t in "${targets[@]}"; do
  run "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "${FUZZ_JOBS:-2}" ]; then wait "${pids[0]}" || true; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

printf '\n%-16s %14s %10s %8s %8s\n' target runs seconds cov crashes
status=0
for t in "${targets[@]}"; do
  log="target/fuzz-logs/$t.log"
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  secs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE 'in [0-9]+' | grep -oE '[0-9]+' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  # Crashes, out-of-memory, timeouts and leaks all count.
  crashes=$(ls fuzz/artifacts/"$t" 2>/dev/null | grep -cE '^(crash|oom|timeout|leak)-' || true)
  printf '%-16s %14s %10s %8s %8s\n' "$t" "$runs" "$secs" "$cov" "$crashes"
  [ "$crashes" = "0" ] || status=1
done
exit $status
