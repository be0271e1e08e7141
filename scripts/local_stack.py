"""The local stack: a moto server (S3 and DynamoDB) with the bucket the sample events name,
the records table, and the sample images uploaded.

As a script, it starts the stack on a fixed port and keeps it up until interrupted, for
`cargo lambda watch` (whose environment, in Cargo.toml, points at that port):

    .venv/bin/python scripts/local_stack.py [--port 4567]
"""

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import boto3

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "my-photo-library"  # the bucket the sample events name
TABLE = "s3-alt-text-local"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local-secret"}
WATCH_PORT = 4567  # the port [package.metadata.lambda.env] names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                sys.exit(f"{what} exited with {process.returncode}")
            if time.time() > deadline:
                sys.exit(f"{what} did not listen on port {port}")
            time.sleep(0.2)


def start_moto(port: int | None = None) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    moto = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, moto, "moto_server")
    return moto, f"http://127.0.0.1:{port}"


def clients(endpoint: str):
    session = boto3.session.Session(
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    return session.client("s3", endpoint_url=endpoint), session.client("dynamodb", endpoint_url=endpoint)


def create_stack(endpoint: str):
    s3, dynamodb = clients(endpoint)
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


def upload_samples(s3, quiet: bool = False) -> list[dict]:
    uploads = json.loads((ROOT / "samples/uploads.json").read_text())
    for upload in uploads:
        extra = {"ContentType": upload["content_type"]}
        if upload["tags"]:
            extra["Tagging"] = urlencode(upload["tags"])
        body = (ROOT / "samples" / upload["file"]).read_bytes()
        s3.put_object(Bucket=BUCKET, Key=upload["key"], Body=body, **extra)
        if not quiet:
            tags = f" with {len(upload['tags'])} user tags" if upload["tags"] else ""
            print(f"  uploaded s3://{BUCKET}/{upload['key']} ({upload['file']}){tags}")
    return uploads


def tags(s3, key: str) -> dict:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}


def plain(value: dict):
    """A DynamoDB attribute value without its type tags (maps become dicts)."""
    kind, inner = next(iter(value.items()))
    if kind == "M":
        return {k: plain(v) for k, v in sorted(inner.items())}
    if kind == "L":
        return [plain(v) for v in inner]
    return inner


def record(dynamodb, key: str) -> dict | None:
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": BUCKET}, "sk": {"S": key}}, ConsistentRead=True)
    item = item.get("Item")
    return {k: plain(v) for k, v in sorted(item.items())} if item else None


def function_env(endpoint: str) -> dict:
    """The AWS settings the function needs to reach this stack."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION, "TABLE_NAME": TABLE}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=WATCH_PORT)
    args = parser.parse_args()
    moto, endpoint = start_moto(args.port)
    try:
        s3, _ = create_stack(endpoint)
        upload_samples(s3)
        print(f"Local stack at {endpoint}: bucket {BUCKET}, table {TABLE}. Ctrl-C stops it.")
        moto.wait()
    except KeyboardInterrupt:
        pass
    finally:
        moto.terminate()
        moto.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
