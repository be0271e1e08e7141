"""The local run: the local stack (SeaweedFS for S3, dynalite for DynamoDB, moto for SSM)
on free ports, the sample images uploaded, the sample events replayed through the function
binary, and the resulting tags and records printed. With ALT_TEXT_API_KEY set, the key goes
into an SSM SecureString parameter and the function reads it from there, as deployed.

Usage: demo.py PATH/TO/s3-alt-text
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import local_stack as stack


def replay(binary: str, local: "stack.LocalStack", files: list[Path]) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(local.function_env())
    if env.pop("ALT_TEXT_API_KEY", None):
        env["ALT_TEXT_API_KEY_PARAMETER"] = stack.KEY_PARAMETER
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


def show(local: "stack.LocalStack", uploads: list[dict]) -> None:
    for upload in uploads:
        key = upload["key"]
        print(f"\ns3://{stack.BUCKET}/{key}")
        tags = local.tags(key)
        print("  tags:   " + (", ".join(f"{k}={v!r}" for k, v in tags.items()) or "(none)"))
        record = local.record(key)
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
    stack.stop_on_signals()
    with stack.LocalStack() as local:
        e = local.endpoints
        print(f"Local stack: SeaweedFS (S3) at {e['s3']}, dynalite (DynamoDB) at {e['dynamodb']}, moto (SSM) at {e['moto']}")
        print(f"Bucket {stack.BUCKET} (versioned), table {stack.TABLE}")
        provider = os.environ.get("ALT_TEXT_PROVIDER", "embedded,alttextlab")
        api_key = os.environ.get("ALT_TEXT_API_KEY")
        key_note = f"set: read from SSM {stack.KEY_PARAMETER}" if api_key else "not set: only embedded alt text can caption"
        print(f"Providers: {provider} (ALT_TEXT_API_KEY {key_note})\n")
        local.create_samples(api_key)
        uploads = local.upload_samples()
        events = sorted((stack.ROOT / "events").glob("*.json"))
        print("\nReplaying the sample events through the function:")
        ok = replay(binary, local, events)
        print("\nReplaying s3-put.json again (already captioned: no provider call):")
        ok = replay(binary, local, [stack.ROOT / "events/s3-put.json"]) and ok
        show(local, uploads)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
