"""Benchmark of the function, run by bench/run.sh: the release binary under a Lambda
Runtime API emulator of its own, against the local stack (SeaweedFS for S3, dynalite for
DynamoDB: scripts/local_stack.py) and fake providers with a fixed latency.
Prints one table: each figure beside its target.

Figures:
  1. init (process start to the first /next) of the function, of a hello-world
     lambda_runtime binary and of the Python equivalent under awslambdaric;
  2. critical path of one image: invocation time minus the provider's latency, in S3
     round trips (measured in the same run);
  3. a 100-record invocation with a 200 ms provider, against ceil(100/concurrency) x 200 ms;
  4. peak RSS (VmHWM): idle, and after a 16 MB image sent base64 to a provider;
  5. peak RSS of an SQS batch of ten 16 MB images sent base64, at 256 MB: all captioned,
     within the memory budget;
  6. peak RSS of `export` of 10,000 records (a DynamoDB Query, page by page), and the time
     the review page takes to show its first page and one far into those records;
  7. size of the release binary, stripped, and of its zip package;
  8. image preparation (bench/images.py): a 48 MP JPEG through the Bedrock fake, bytes and
     pixels each service sent bytes receives per image before and after, ten 48 MP JPEGs in
     one SQS batch at 256 MB;
  9. cost (bench/cost.py): GB-seconds per 1,000 images with a 2 s provider, one image per
     invocation (direct) against SQS batches of ten (queue), and peak RSS at 128 and 256 MB.
"""

import argparse
import base64
import http.client
import http.server
import json
import math
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import local_stack as stack  # noqa: E402

import cost  # noqa: E402  (bench/cost.py)
import images  # noqa: E402  (bench/images.py)

PROVIDER_LATENCY = 0.2  # seconds
RUNS = 5
INIT_RUNS = 15  # process starts are cheap and noisy: more of them
API_KEY = "bench-key"
CONCURRENCY = 10  # the default MAX_CONCURRENCY
BATCH = 10  # records of 16 MB images in one SQS batch
EXPORTED = 10_000  # records listed by `export`


class QuietServer(http.server.ThreadingHTTPServer):
    """A threaded server that says nothing when a client goes away (a function process is
    killed while it waits on /next)."""

    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """The bench servers' request handler: HTTP/1.1 keep-alive, no request log, and
    headers and body sent at once (no Nagle delay against the client's delayed ACK)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


class RuntimeApi:
    """A Lambda Runtime API: hands out queued events on /next, records answers."""

    def __init__(self):
        self.events: queue.Queue = queue.Queue()
        self.answers: queue.Queue = queue.Queue()
        self.first_next: float | None = None
        self.sent: dict[str, float] = {}
        api = self

        class Handler(QuietHandler):
            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    return self.reply(404, b"{}")
                if api.first_next is None:
                    api.first_next = time.monotonic()
                request_id, payload = api.events.get()
                body = json.dumps(payload).encode()
                api.sent[request_id] = time.monotonic()
                self.send_response(200)
                # awslambdaric needs the content type; every runtime needs these headers.
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:bench",
                )
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.split("/")
                if "invocation" in parts:
                    request_id = parts[parts.index("invocation") + 1]
                    api.answers.put((request_id, parts[-1], time.monotonic(), body))
                self.reply(202, b"{}")

            def reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, request_id: str, payload) -> tuple[float, dict]:
        """Seconds from handing out the event to its answer, and the answer."""
        self.events.put((request_id, payload))
        got_id, kind, at, body = self.answers.get(timeout=120)
        assert got_id == request_id and kind == "response", (got_id, kind, body[:300])
        return at - self.sent[request_id], json.loads(body or b"null")

    def close(self):
        self.server.shutdown()


class FakeProviders:
    """AltTextLab (fetches the presigned URL) and AutoAlt (base64 body), each answering
    PROVIDER_LATENCY after the request came in (or when done, if the fetch took longer)."""

    def __init__(self, latency: float = PROVIDER_LATENCY):
        self.durations: list[float] = []
        self.windows: list[tuple[float, float]] = []
        fakes = self

        class Handler(QuietHandler):
            def do_POST(self):
                started = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                if self.path == "/api/v1/alt-text/generate":
                    assert self.headers.get("x-api-key") == API_KEY
                    size = len(requests.get(body["imageUrl"], timeout=30).content)
                    answer = {"id": "b1", "result": f"A photograph of {size} bytes."}
                else:
                    assert self.headers.get("Authorization") == f"Bearer {API_KEY}"
                    size = len(base64.b64decode(body["image"]))
                    answer = {"success": True, "results": [{"alt_text": f"A photograph of {size} bytes.", "success": True}]}
                # A fixed latency, the fetch of the image included.
                time.sleep(max(0.0, latency - (time.monotonic() - started)))
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                fakes.durations.append(time.monotonic() - started)
                fakes.windows.append((started, time.monotonic()))

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


ETAGS: dict[str, str] = {}


class TracingProxy:
    """Forwards to the local S3 and DynamoDB (by the request's `X-Amz-Target`) and notes each
    call's name, start and end: which store calls an invocation makes, and how many of them
    follow one another (the critical path's depth). Requests keep the `Host` they were
    signed for, so SeaweedFS still verifies them."""

    def __init__(self, s3: str, dynamodb: str):
        self.calls: list[tuple[str, float, float]] = []
        s3_target, dynamodb_target = urllib.parse.urlsplit(s3), urllib.parse.urlsplit(dynamodb)
        proxy = self

        class Handler(QuietHandler):
            def forward(self):
                started = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                target = dynamodb_target if self.headers.get("X-Amz-Target") else s3_target
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                # The call ends when the store has answered: the function may act on the
                # answer (call the provider) before this thread is done writing it.
                ended = time.monotonic()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()
                proxy.calls.append((operation(self.command, self.path, self.headers), started, ended))

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def operation(method: str, path: str, headers) -> str:
    """The API operation of a request to S3 or DynamoDB."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    query = urllib.parse.urlsplit(path).query
    if "tagging" in query:
        return f"{'Get' if method == 'GET' else 'Put'}ObjectTagging"
    if method == "HEAD":
        return "HeadObject"
    if method == "GET":
        return "GetObject (presigned)" if "X-Amz-Signature" in query else "GetObject"
    return method


def waves(calls: list[tuple[str, float, float]]) -> list[tuple[list[str], float]]:
    """Calls grouped into the steps that follow one another (a call that starts before the
    calls of the current step have all ended runs alongside them), with each step's time."""
    steps: list[tuple[list[str], float, float]] = []
    for name, start, stop in sorted(calls, key=lambda c: c[1]):
        if steps and start < steps[-1][2]:
            names, begun, end = steps[-1]
            steps[-1] = (names + [name], begun, max(end, stop))
        else:
            steps.append(([name], start, stop))
    return [(names, end - begun) for names, begun, end in steps]


def s3_event(keys: list[str]) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": stack.REGION,
                "eventTime": "2026-11-22T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.24"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "alt-text",
                    "bucket": {
                        "name": stack.BUCKET,
                        "arn": f"arn:aws:s3:::{stack.BUCKET}",
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                    },
                    "object": {
                        "key": urllib.parse.quote_plus(key, safe="/"),
                        "size": 1,
                        "eTag": ETAGS[key],
                        "sequencer": f"{i:018X}",
                    },
                },
            }
            for i, key in enumerate(keys, start=1)
        ]
    }


def sqs_batch(bodies: list[dict]) -> dict:
    """An SQS batch, one S3 notification per message."""
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"AQEB{i}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795338765218"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uploads",
                "awsRegion": stack.REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def export_figures(local: "stack.LocalStack", binary: Path) -> tuple[int, int, float]:
    """Writes EXPORTED captioned records, then runs `export` under a Python process of its
    own, whose children's peak RSS is that of the export alone: (peak KiB, rows, seconds)."""
    table = local.client("dynamodb")
    items = [
        {
            "pk": {"S": "export-bench"},
            "sk": {"S": f"catalog/{i:05}.jpg"},
            "state": {"S": "captioned"},
            "alt_text": {"S": f"Product photo number {i}, a ceramic cup on a white background"},
            "provider": {"S": "alttextlab"},
            "lang": {"S": "en"},
            "updated_at": {"S": "2026-12-01T10:00:00Z"},
        }
        for i in range(EXPORTED)
    ]
    for start in range(0, len(items), 25):
        chunk = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        table.batch_write_item(RequestItems={stack.TABLE: chunk})
    measure = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, check=True).stdout\n"
        "took = time.monotonic() - t\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, out.count(b'\\n') - 1, took)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), **local.function_env()}
    done = subprocess.run(
        [sys.executable, "-c", measure, str(binary), "export", "--bucket", "export-bench"],
        env=env, capture_output=True, text=True, check=True,
    )
    rss, rows, took = done.stdout.split()
    return int(rss), int(rows), float(took)


def review_figures(local: "stack.LocalStack", binary: Path) -> tuple[float, float]:
    """Medians of five loads of the review page over the export's records: its first page,
    and the page after the 9,000th record."""
    env = {"PATH": os.environ.get("PATH", ""), **local.function_env()}
    review = subprocess.Popen(
        [str(binary), "review", "--bucket", "export-bench"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        url = review.stdout.readline().split(": ", 1)[1].strip()
        timings = []
        for page in (url, f"{url}&after=catalog/09000.jpg"):
            runs = []
            for _ in range(5):
                started = time.monotonic()
                answer = requests.get(page, timeout=30)
                runs.append(time.monotonic() - started)
                assert answer.status_code == 200 and answer.text.count('class="card"') == 50, answer.status_code
            timings.append(statistics.median(runs))
        return timings[0], timings[1]
    finally:
        review.kill()
        review.wait()


def image_figures(local: "stack.LocalStack", binary: Path) -> list[tuple]:
    """The rows of figure 8 (see bench/images.py)."""
    s3 = local.client("s3")
    made = images.make_images()
    made["img/coffee.jpg"] = ((ROOT / "samples/coffee.jpg").read_bytes(), "image/jpeg")
    order = ["img/48mp.jpg", "img/coffee.jpg", "img/phone.jpg", "img/clear.png", "img/moving.gif", "img/scan.tiff"]
    fakes = images.ImageFakes(API_KEY, QuietServer, QuietHandler)
    rows, sent = [], {}
    try:
        def put(key, data, content_type):
            ETAGS[key] = s3.put_object(Bucket=stack.BUCKET, Key=key, Body=data, ContentType=content_type)["ETag"].strip('"')

        for service in images.OLD_LIMITS:
            env = {**base_env(local), **images.service_env(service, fakes.url, API_KEY)}
            f = Function([str(binary)], env)
            for key in order:
                put(f"{service}/{key}", *made[key])
                began = time.monotonic()
                _, answer = f.invoke(s3_event([f"{service}/{key}"]))
                assert answer["captioned"] == 1, (service, key, answer)
                note = fakes.received[-1]
                sent[service, key] = {**note, "took": note["arrived"] - began}
                if key == "img/48mp.jpg":
                    sent[service, key]["rss"] = f.rss_kib()
            f.close()

        big = sent["bedrock", "img/48mp.jpg"]
        began = time.monotonic()
        s3.get_object(Bucket=stack.BUCKET, Key="bedrock/img/48mp.jpg")["Body"].read()
        get_took = time.monotonic() - began
        baseline = sent["bedrock", "img/coffee.jpg"]["took"]
        preparation = big["took"] - get_took - baseline
        w, h = big["size"]
        original = made["img/48mp.jpg"][0]
        rows += [
            ("48 MP JPEG (orientation 6) to Bedrock", f"{len(original) / 1e6:.1f} MB, 8000 x 6000 -> {big['bytes'] / 1e6:.2f} MB, {w} x {h}",
             "<= 3.75 MB, <= 8000 px", big["bytes"] <= images.BEDROCK_MAX and max(w, h) <= 8000),
            ("  the right way up (marker top left)", "yes" if big["upright"] else "no", "yes", big["upright"]),
            ("  peak RSS", f"{big['rss'] / 1024:.1f} MiB", "<= 160 MB", big["rss"] * 1024 <= 160e6),
            ("  invocation to request at Bedrock", f"{big['took'] * 1000:.0f} ms (S3 GET of it {get_took * 1000:.0f} ms, a small image as is {baseline * 1000:.0f} ms: preparation ~{preparation * 1000:.0f} ms)", "", None),
        ]
        for key in order[1:] + order[:1]:
            for service in images.OLD_LIMITS:
                before = images.sent_before(service, made[key][0])
                now = sent[service, key]
                shown = "declined" if before is None else f"{before[0] / 1e6:.2f} MB, {before[1] / 1e6:.2f} MP"
                pixels = now["size"][0] * now["size"][1]
                rows.append((f"{key[4:]} to {service}", f"{shown} -> {now['bytes'] / 1e6:.2f} MB, {pixels / 1e6:.2f} MP {now['format']}", "", None))

        # Ten 48 MP JPEGs in one SQS batch, at 256 MB.
        keys = [f"batch/48mp-{i}.jpg" for i in range(10)]
        for i, key in enumerate(keys):
            put(key, original + f"{i}".encode(), "image/jpeg")
        env = {**base_env(local), **images.service_env("bedrock", fakes.url, API_KEY)}
        f = Function([str(binary)], env)
        took, answer = f.invoke(sqs_batch([s3_event([key]) for key in keys]))
        rss = f.rss_kib()
        f.close()
        captioned = sum(any(t["Key"] == "alt-text" for t in s3.get_object_tagging(Bucket=stack.BUCKET, Key=k)["TagSet"]) for k in keys)
        rows.append(("SQS batch of 10 x 48 MP JPEG, 256 MB", f"{rss / 1024:.1f} MiB, {captioned}/10 captioned in {took:.1f} s",
                     "< 256 MB, all 10 captioned", rss * 1024 < 256e6 and captioned == 10 and answer == {"batchItemFailures": []}))
    finally:
        fakes.close()
    return rows


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


class Function:
    """A function process under its own Runtime API emulator."""

    def __init__(self, command: list[str], env: dict, cwd: Path = ROOT):
        self.api = RuntimeApi()
        started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            env={**env, "AWS_LAMBDA_RUNTIME_API": self.api.address},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while self.api.first_next is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {self.process.returncode}")
            time.sleep(0.001)
        self.init = self.api.first_next - started
        self.count = 0

    def invoke(self, payload) -> tuple[float, dict]:
        self.count += 1
        return self.api.invoke(f"req-{self.count}", payload)

    def rss_kib(self) -> int:
        return vm_hwm_kib(self.process.pid)

    def cpu_seconds(self) -> float:
        """CPU time the process has used (user and system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.process.kill()
        self.process.wait()
        self.api.close()


def base_env(local: "stack.LocalStack") -> dict:
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_DEFAULT_REGION": stack.REGION,
        "METRICS_NAMESPACE": "off",
        **local.function_env(),
    }


def median_init(command: list[str], env: dict, cwd: Path = ROOT) -> float:
    inits = []
    for _ in range(INIT_RUNS):
        f = Function(command, env, cwd)
        inits.append(f.init)
        f.close()
    return statistics.median(inits)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=ROOT / "target/release/s3-alt-text", help="the function binary")
    parser.add_argument("--hello", type=Path, default=ROOT / "bench/hello/target/release/hello", help="the hello-world binary")
    parser.add_argument("--quick", action="store_true", help="the function's own figures only: no Python, no 100-record batch")
    parser.add_argument("--images", action="store_true", help="figure 8 only: image preparation")
    parser.add_argument("--cost", action="store_true", help="figure 9 only: GB-seconds, direct against queue")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    binary, hello = args.binary, args.hello
    local = stack.LocalStack()
    local.start()
    providers = FakeProviders()
    tracer = TracingProxy(local.endpoints["s3"], local.endpoints["dynamodb"])
    rows = []
    try:
        local.create_samples()
        if args.images:
            rows = image_figures(local, binary)
            return print_table(rows)
        if args.cost:
            rows = cost.cost_figures(sys.modules[__name__], local, binary)
            return print_table(rows)
        s3 = local.client("s3")
        coffee = (ROOT / "samples/coffee.jpg").read_bytes()
        keys = [f"bench/{i:03}.jpg" for i in range(100 + RUNS + 1)]
        for key in keys:
            # Distinct bytes, so that no image is a copy of another.
            put = s3.put_object(Bucket=stack.BUCKET, Key=key, Body=coffee + key.encode(), ContentType="image/jpeg")
            ETAGS[key] = put["ETag"].strip('"')
        big_keys = ["bench/16mb.jpg"] + [f"bench/16mb-{i}.jpg" for i in range(BATCH)]
        for key in big_keys:
            big = b"\xff\xd8\xff\xe0" + os.urandom(16_000_000 - 4)  # the most a service takes as it is
            put = s3.put_object(Bucket=stack.BUCKET, Key=key, Body=big, ContentType="image/jpeg")
            ETAGS[key] = put["ETag"].strip('"')

        env = {**base_env(local), "ALT_TEXT_PROVIDER": "alttextlab", "ALT_TEXT_API_KEY": API_KEY, "ALT_TEXT_API_URL": providers.url}
        python = [str(ROOT / ".venv/bin/python"), "-m", "awslambdaric", "function.handler"]

        # 1. init
        rust_init = median_init([str(binary)], env)
        hello_init = median_init([str(hello)], base_env(local))
        python_init = None if args.quick else median_init(python, env, ROOT / "bench")

        # 2. critical path, and idle memory
        round_trips = []
        url = f"{local.endpoints['s3']}/{stack.BUCKET}/{keys[0]}"
        for _ in range(30):
            t = time.monotonic()
            requests.head(url, timeout=10)
            round_trips.append(time.monotonic() - t)
        round_trip = statistics.median(round_trips)
        f = Function([str(binary)], env)
        idle_rss = f.rss_kib()
        paths = []
        for key in keys[100 : 100 + RUNS]:
            took, answer = f.invoke(s3_event([key]))
            assert answer["captioned"] == 1, answer
            # The provider's own time: its fetch of the image from S3, and the fixed latency.
            paths.append(took - providers.durations[-1])
        critical = statistics.median(paths)

        # 3. a 100-record invocation
        took_100 = None
        if not args.quick:
            took_100, answer = f.invoke(s3_event(keys[:100]))
            assert answer["captioned"] == 100, {k: v for k, v in answer.items() if k != "objects"}
        bound = math.ceil(100 / CONCURRENCY) * PROVIDER_LATENCY
        f.close()

        # The store calls of one image, through a recording proxy: the steps before and after
        # the provider call (calls made at the same time count as one step).
        traced_env = {**env, "AWS_ENDPOINT_URL_S3": tracer.url, "AWS_ENDPOINT_URL_DYNAMODB": tracer.url}
        traced = Function([str(binary)], traced_env)
        traced_took, answer = traced.invoke(s3_event([keys[-1]]))
        assert answer["captioned"] == 1, answer
        traced.close()
        called, answered = providers.windows[-1]
        before = waves([c for c in tracer.calls if c[2] <= called])
        after = waves([c for c in tracer.calls if c[1] >= answered])
        steps = len(before) + len(after)
        in_steps = sum(t for _, t in before + after)
        own = traced_took - (answered - called) - in_steps
        show = lambda ws: ", then ".join(f"{' + '.join(sorted(names))} {t * 1000:.0f} ms" for names, t in ws)  # noqa: E731

        # 4. a 16 MB image through a base64 provider
        big_env = {**env, "ALT_TEXT_PROVIDER": "autoalt", "ALT_TEXT_API_URL": providers.url}
        f = Function([str(binary)], big_env)
        _, answer = f.invoke(s3_event(["bench/16mb.jpg"]))
        assert answer["captioned"] == 1, answer
        big_rss = f.rss_kib()
        f.close()

        # 5. ten 16 MB images in one SQS batch, at 256 MB
        f = Function([str(binary)], big_env)
        batch_took, answer = f.invoke(sqs_batch([s3_event([key]) for key in big_keys[1:]]))
        batch_rss = f.rss_kib()
        f.close()
        assert answer == {"batchItemFailures": []}, answer
        batch_captioned = sum(
            any(t["Key"] == "alt-text" for t in s3.get_object_tagging(Bucket=stack.BUCKET, Key=key)["TagSet"])
            for key in big_keys[1:]
        )

        # 6. export of 10,000 records
        export_rss, export_rows, export_took = export_figures(local, binary)
        first_page, far_page = review_figures(local, binary)

        # 7. sizes
        with tempfile.TemporaryDirectory() as tmp:
            stripped = Path(tmp) / "bootstrap"
            shutil.copy(binary, stripped)
            subprocess.run(["strip", str(stripped)], check=True)
            package = Path(tmp) / "bootstrap.zip"
            with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
                z.write(stripped, "bootstrap")
            stripped_mb = stripped.stat().st_size / 1e6
            zip_mb = package.stat().st_size / 1e6

        ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
        rows = [
            ("init, s3-alt-text", ms(rust_init), f"<= 1.5 x hello = {ms(1.5 * hello_init)}", rust_init <= 1.5 * hello_init),
        ]
        if python_init is not None:
            rows.append(("", "", f"<= 0.1 x Python = {ms(0.1 * python_init)}", rust_init <= 0.1 * python_init))
        rows.append(("init, hello-world lambda_runtime", ms(hello_init), "", None))
        if python_init is not None:
            rows.append(("init, Python + awslambdaric", ms(python_init), "", None))
        rows += [
            ("S3 round trip (HEAD)", ms(round_trip), "", None),
            ("critical path, one image", f"{ms(critical)} = {critical / round_trip:.1f} HEAD round trips", "", None),
            ("store steps around the provider call", f"{len(before)} before + {len(after)} after = {steps}",
             "<= 2 steps beyond the provider", steps <= 2),
            ("  before the provider call", show(before), "", None),
            ("  after the provider answers", show(after), "", None),
            ("  the rest: the function's own time", ms(own), "", None),
        ]
        if took_100 is not None:
            rows.append(("100 records, 200 ms provider", f"{ms(took_100)} = {took_100 / bound:.2f} x bound",
                         f"<= 1.2 x ceil(100/{CONCURRENCY}) x 200 ms = {ms(1.2 * bound)}", took_100 <= 1.2 * bound))
        rows += [
            ("peak RSS, idle", f"{idle_rss / 1024:.1f} MiB", "<= 24 MiB", idle_rss <= 24 * 1024),
            ("peak RSS, 16 MB image as base64", f"{big_rss / 1024:.1f} MiB", "<= 64 MiB", big_rss <= 64 * 1024),
            (f"peak RSS, export of {EXPORTED:,} records", f"{export_rss / 1024:.1f} MiB, {export_rows:,} rows in {export_took:.1f} s",
             "<= 32 MiB, every record", export_rss <= 32 * 1024 and export_rows == EXPORTED),
            (f"review page of {EXPORTED:,} records", f"first page {ms(first_page)}, after 9,000 {ms(far_page)}",
             "<= 500 ms each", max(first_page, far_page) <= 0.5),
            (f"peak RSS, SQS batch of {BATCH} x 16 MB, 256 MB", f"{batch_rss / 1024:.1f} MiB, {batch_captioned}/{BATCH} captioned in {batch_took:.1f} s",
             f"< 200 MiB, all {BATCH} captioned", batch_rss < 200 * 1024 and batch_captioned == BATCH),
            ("release binary, stripped", f"{stripped_mb:.1f} MB", "", None),
            ("zip package", f"{zip_mb:.1f} MB", "", None),
        ]
        if not args.quick:
            rows += image_figures(local, binary)
            rows += cost.cost_figures(sys.modules[__name__], local, binary)
    finally:
        tracer.close()
        local.stop()
    print_table(rows)
    print(f"\n({binary}; init: median of {INIT_RUNS} starts; critical path: median of {RUNS} images; provider latency {PROVIDER_LATENCY * 1000:.0f} ms; MAX_CONCURRENCY {CONCURRENCY})")
    return 0


def print_table(rows: list[tuple]) -> int:
    """Prints the figures, each beside its target."""
    width = max(len(r[0]) for r in rows)
    value_width = max(30, *(len(r[1]) for r in rows))
    print(f"\n| {'figure':<{width}} | {'measured':<{value_width}} | {'target':<44} | met |")
    print(f"|{'-' * (width + 2)}|{'-' * (value_width + 2)}|{'-' * 46}|-----|")
    for name, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "no")
        print(f"| {name:<{width}} | {value:<{value_width}} | {target:<44} | {mark:<3} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
