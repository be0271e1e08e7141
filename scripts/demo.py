"""The local run: moto on a free port, the sample images uploaded, the sample events
replayed through the function binary, and the resulting tags and records printed.

Usage: demo.py PATH/TO/s3-alt-text
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "my-photo-library"  # the bucket the sample events name
TABLE = "s3-alt-text-local"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    moto = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return moto, f"http://127.0.0.1:{port}"
        except OSError:
            if moto.poll() is not None or time.time() > deadline:
                sys.exit(f"moto_server did not start on port {port}")
            time.sleep(0.1)


def create_stack(endpoint: str):
    session = boto3.session.Session(
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return s3, dynamodb


def upload_samples(s3) -> list[dict]:
    uploads = json.loads((ROOT / "samples/uploads.json").read_text())
    for upload in uploads:
        extra = {"ContentType": upload["content_type"]}
        if upload["tags"]:
            from urllib.parse import urlencode

            extra["Tagging"] = urlencode(upload["tags"])
        s3.put_object(Bucket=BUCKET, Key=upload["key"], Body=(ROOT / "samples" / upload["file"]).read_bytes(), **extra)
        tags = f" with {len(upload['tags'])} user tags" if upload["tags"] else ""
        print(f"  uploaded s3://{BUCKET}/{upload['key']} ({upload['file']}){tags}")
    return uploads


def replay(binary: str, endpoint: str, files: list[Path]) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS)
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION, "TABLE_NAME": TABLE})
    env.setdefault("RUST_LOG", "info")
    result = subprocess.run(
        [binary, "replay", *map(str, files)], env=env, capture_output=True, text=True
    )
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
        print(f"\ns3://{BUCKET}/{key}")
        tags = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
        print("  tags:   " + (", ".join(f"{t['Key']}={t['Value']!r}" for t in tags) or "(none)"))
        item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": BUCKET}, "sk": {"S": key}}, ConsistentRead=True)
        item = item.get("Item")
        if not item:
            print("  record: (none)")
            continue
        record = {k: next(iter(v.values())) for k, v in sorted(item.items()) if k not in ("pk", "sk")}
        width = max(map(len, record))
        print("  record:")
        for name, value in record.items():
            print(f"    {name:<{width}}  {value}")


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/release/s3-alt-text")
    moto, endpoint = start_moto()
    try:
        print(f"Local stack: moto (S3 + DynamoDB) at {endpoint}, bucket {BUCKET}, table {TABLE}")
        provider = os.environ.get("ALT_TEXT_PROVIDER", "embedded,alttextlab")
        key_note = "set" if os.environ.get("ALT_TEXT_API_KEY") else "not set: only embedded alt text can caption"
        print(f"Providers: {provider} (ALT_TEXT_API_KEY {key_note})\n")
        s3, dynamodb = create_stack(endpoint)
        uploads = upload_samples(s3)
        events = sorted((ROOT / "events").glob("*.json"))
        print("\nReplaying the sample events through the function:")
        ok = replay(binary, endpoint, events)
        print("\nReplaying s3-put.json again (already captioned: no provider call):")
        ok = replay(binary, endpoint, [ROOT / "events/s3-put.json"]) and ok
        show(s3, dynamodb, uploads)
        return 0 if ok else 1
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    sys.exit(main())
