#!/usr/bin/env bash
# Creates the project's Python virtual environment (.venv) with the local stack's tools
# (moto's S3 and DynamoDB server, boto3). Safe to run again: it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
wanted=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
  echo "$wanted" > "$stamp"
fi
