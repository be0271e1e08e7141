#!/usr/bin/env bash
# Runs the function end to end on the local stack: sets up .venv and dynalite, builds the
# release binary, starts SeaweedFS (S3), dynalite (DynamoDB) and moto (SSM) on free ports,
# uploads the sample images, replays the sample events through the function and prints
# every object's tags and record.
#
# Without ALT_TEXT_API_KEY only the embedded provider captions; set it (and any other
# ALT_TEXT_* variable, such as ALT_TEXT_PROVIDER) to call a captioning service as well.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --locked
exec .venv/bin/python scripts/demo.py target/release/s3-alt-text
