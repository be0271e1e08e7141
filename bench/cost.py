"""Figure 9 of the benchmark: what Lambda bills while the function waits on a provider.

With a provider that takes COST_LATENCY seconds, the function is invoked once per image
(DeliveryMode direct: S3 invokes it per object) and once per SQS batch of ten (DeliveryMode
queue: the event source mapping's BatchSize 10, the images of a batch captioned at once). Each
invocation's duration, from the Runtime API handing out the event to its answer, is what
Lambda bills (rounded up to the millisecond); times the memory, GB-seconds per 1,000 images.
The batching window (MaximumBatchingWindowInSeconds) is time the poller waits before it
invokes: it is not billed.

Then the memory the template sets: peak RSS of a batch of ten photographs at 128 and 256 MB,
and whether a 48 MP JPEG is still prepared within the memory budget at 128 MB. Lambda gives a
function CPU in proportion to its memory (one vCPU at 1,769 MB); the CPU time each takes here,
on a whole core, shows what the smaller share would add.
"""

import math
import statistics
import time

COST_LATENCY = 2.0  # seconds a provider takes
DIRECT_RUNS = 10  # images, one invocation each
QUEUE_RUNS = 4  # batches of ten
BATCH_SIZE = 10
VCPU_MB = 1769  # memory at which Lambda gives a function one vCPU
GB_SECOND_USD = 0.0000166667  # Lambda x86, us-east-1, first tier


def billed_gb_seconds(durations: list[float], memory_mb: int) -> float:
    """GB-seconds Lambda bills for invocations of these durations at `memory_mb`."""
    return sum(math.ceil(d * 1000) / 1000 for d in durations) * memory_mb / 1024


def cost_figures(bench, local, binary) -> list[tuple]:
    """The rows of figure 9; `bench` is bench.py (its Function, fakes and event builders)."""
    s3 = local.client("s3")
    coffee = (bench.ROOT / "samples/coffee.jpg").read_bytes()
    fake = bench.FakeProviders(latency=COST_LATENCY)
    rows = []

    def put(key, data=None):
        body = data if data is not None else coffee + key.encode()
        bench.ETAGS[key] = s3.put_object(Bucket=bench.stack.BUCKET, Key=key, Body=body, ContentType="image/jpeg")["ETag"].strip('"')

    def function(memory_mb: int, provider: dict | None = None):
        """The function at `memory_mb`, with AltTextLab at the slow fake unless `provider`."""
        alttextlab = {"ALT_TEXT_PROVIDER": "alttextlab", "ALT_TEXT_API_KEY": bench.API_KEY, "ALT_TEXT_API_URL": fake.url}
        env = {**bench.base_env(local), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), **(provider or alttextlab)}
        return bench.Function([str(binary)], env)

    memory = 256
    direct_keys = [f"cost/direct-{i}.jpg" for i in range(DIRECT_RUNS)]
    queue_keys = [[f"cost/queue-{b}-{i}.jpg" for i in range(BATCH_SIZE)] for b in range(QUEUE_RUNS)]
    for key in direct_keys + [k for batch in queue_keys for k in batch]:
        put(key)

    f = function(memory)
    direct = []
    for key in direct_keys:
        took, answer = f.invoke(bench.s3_event([key]))
        assert answer["captioned"] == 1, answer
        direct.append(took)
    queue = []
    for batch in queue_keys:
        took, answer = f.invoke(bench.sqs_batch([bench.s3_event([key]) for key in batch]))
        assert answer == {"batchItemFailures": []}, answer
        queue.append(took)
    f.close()

    per_image_direct = billed_gb_seconds(direct, memory) / len(direct_keys) * 1000
    per_image_queue = billed_gb_seconds(queue, memory) / (QUEUE_RUNS * BATCH_SIZE) * 1000
    ratio = per_image_queue / per_image_direct
    usd = lambda gbs: f"${gbs * GB_SECOND_USD:.4f}"  # noqa: E731
    rows += [
        (f"direct: 1 image per invocation, {COST_LATENCY:.0f} s provider, {memory} MB",
         f"{statistics.median(direct):.3f} s each = {per_image_direct:.1f} GB-s per 1,000 images ({usd(per_image_direct)})", "", None),
        (f"queue: SQS batch of {BATCH_SIZE}, {COST_LATENCY:.0f} s provider, {memory} MB",
         f"{statistics.median(queue):.3f} s each = {per_image_queue:.1f} GB-s per 1,000 images ({usd(per_image_queue)})", "", None),
        ("  queue / direct, per image", f"{ratio:.3f}", "<= 0.2", ratio <= 0.2),
    ]

    # The memory the template sets: a batch of ten photographs, and a 48 MP JPEG prepared for
    # a service sent its bytes, at 128 and 256 MB.
    made = bench.images.make_images()
    big, _ = made["img/48mp.jpg"]
    fakes = bench.images.ImageFakes(bench.API_KEY, bench.QuietServer, bench.QuietHandler)
    try:
        for memory in (128, 256):
            batch = [f"cost/rss-{memory}-{i}.jpg" for i in range(BATCH_SIZE)]
            for key in batch:
                put(key)
            f = function(memory)
            cpu = f.cpu_seconds()
            took, answer = f.invoke(bench.sqs_batch([bench.s3_event([key]) for key in batch]))
            rss, cpu = f.rss_kib(), f.cpu_seconds() - cpu
            f.close()
            ok = answer == {"batchItemFailures": []}
            key = f"cost/48mp-{memory}.jpg"
            put(key, big)
            f = function(memory, bench.images.service_env("bedrock", fakes.url, bench.API_KEY))
            big_cpu = f.cpu_seconds()
            _, answer = f.invoke(bench.s3_event([key]))
            big_rss, big_cpu = f.rss_kib(), f.cpu_seconds() - big_cpu
            f.close()
            prepared = answer["captioned"] == 1
            share = memory / VCPU_MB
            rows.append((f"peak RSS at {memory} MB: batch of {BATCH_SIZE} photos; 48 MP JPEG to Bedrock",
                         f"{rss / 1024:.1f} MiB ({'all captioned' if ok else 'failures'}); {big_rss / 1024:.1f} MiB, "
                         + ("captioned" if prepared else f"not captioned: {answer.get('objects', [{}])[0].get('detail', '')[:80]}"),
                         f"< {memory} MB, every image captioned", rss * 1024 < memory * 1e6 and big_rss * 1024 < memory * 1e6 and ok and prepared))
            rows.append((f"  CPU time; at {memory} MB's share ({share:.3f} vCPU)",
                         f"batch {cpu * 1000:.0f} ms -> ~{cpu / share:.1f} s; 48 MP JPEG {big_cpu * 1000:.0f} ms -> ~{big_cpu / share:.1f} s", "", None))
    finally:
        fakes.close()
    return rows
