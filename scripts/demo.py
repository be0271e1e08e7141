"""The local run: moto on a free port, the sample images uploaded, the sample events
replayed through the function binary, and the resulting tags and records printed.

Usage: demo.py PATH/TO/s3-alt-text
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import local_stack as stack


def replay(binary: str, endpoint: str, files: list[Path]) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(stack.function_env(endpoint))
    env.setdefault("RUST_LOG", "info")
    result = subprocess.run([binary, "replay", *map(str, files)], env=env, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        outcome = json.loads(line)
        name = Path(outcome["event"]).name
        if "error" in outcome:
            print(f"  {name}: ERROR {outcome['error']}")
            continue
        summary = outcome["result"]
        if not summary["objects"]:
            print(f"  {name}: nothing to do (test event)")
        for obj in summary["objects"]:
            detail = obj.get("provider") or obj.get("detail") or ""
            print(f"  {name}: {obj['key']} -> {obj['outcome']} {detail}".rstrip())
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
    return result.returncode == 0


def show(s3, dynamodb, uploads: list[dict]) -> None:
    for upload in uploads:
        key = upload["key"]
        print(f"\ns3://{stack.BUCKET}/{key}")
        tags = stack.tags(s3, key)
        print("  tags:   " + (", ".join(f"{k}={v!r}" for k, v in tags.items()) or "(none)"))
        record = stack.record(dynamodb, key)
        if not record:
            print("  record: (none)")
            continue
        record = {k: v for k, v in record.items() if k not in ("pk", "sk")}
        width = max(map(len, record))
        print("  record:")
        for name, value in record.items():
            print(f"    {name:<{width}}  {value}")


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else str(stack.ROOT / "target/release/s3-alt-text")
    moto, endpoint = stack.start_moto()
    try:
        print(f"Local stack: moto (S3 + DynamoDB) at {endpoint}, bucket {stack.BUCKET}, table {stack.TABLE}")
        provider = os.environ.get("ALT_TEXT_PROVIDER", "embedded,alttextlab")
        key_note = "set" if os.environ.get("ALT_TEXT_API_KEY") else "not set: only embedded alt text can caption"
        print(f"Providers: {provider} (ALT_TEXT_API_KEY {key_note})\n")
        s3, dynamodb = stack.create_stack(endpoint)
        uploads = stack.upload_samples(s3)
        events = sorted((stack.ROOT / "events").glob("*.json"))
        print("\nReplaying the sample events through the function:")
        ok = replay(binary, endpoint, events)
        print("\nReplaying s3-put.json again (already captioned: no provider call):")
        ok = replay(binary, endpoint, [stack.ROOT / "events/s3-put.json"]) and ok
        show(s3, dynamodb, uploads)
        return 0 if ok else 1
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    sys.exit(main())
