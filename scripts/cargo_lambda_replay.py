"""Replays every sample event with cargo-lambda against the local stack, and checks that
each object ends as the integration tests expect.

It starts the local stack (SeaweedFS, dynalite, moto) on the ports Cargo.toml's
[package.metadata.lambda.env] names, a stand-in AltTextLab (scripts/fake_alttextlab.py),
`cargo lambda watch`, then runs `cargo lambda invoke --data-file events/…` for each sample.

Usage: cargo_lambda_replay.py   (after scripts/setup.sh deploy)
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import local_stack as stack

API_KEY = "local-replay-key"

# What every sample object ends as: (record state, provider or reason fragment), tag count.
EXPECTED = {
    "uploads/cat.jpg": ("captioned", "embedded", 3),
    "uploads/été/café crème.jpg": ("captioned", "alttextlab", 1),
    "gallery/astronaut.png": ("captioned", "embedded", 10),
    "gallery/rocket 1+1.webp": ("captioned", "embedded", 2),
    "docs/notes.txt": ("skipped", "not an image", 0),
    "archive/2019/astronaut portrait.png": ("captioned", "embedded", 1),
}


def invoke(env: dict, port: int, event: Path) -> dict:
    result = subprocess.run(
        ["cargo", "lambda", "invoke", "--invoke-port", str(port), "--data-file", str(event), "--output-format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        sys.exit(f"cargo lambda invoke {event.name} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout)


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


def main() -> int:
    with stack.LocalStack(ports=stack.WATCH_PORTS) as local:
        local.create_samples()
        local.upload_samples(quiet=True)
        return replay(local)


def replay(local: "stack.LocalStack") -> int:
    root = stack.ROOT
    env = dict(os.environ)
    env["PATH"] = f"{root / '.venv/bin'}:{env['PATH']}"
    processes = []
    try:

        fake_port = stack.free_port()
        fake = subprocess.Popen([sys.executable, str(root / "scripts/fake_alttextlab.py"), str(fake_port), API_KEY])
        processes.append(fake)
        wait_for_port(fake_port, fake, "fake AltTextLab")

        watch_port = stack.free_port()
        log = open(root / "target/cargo-lambda-watch.log", "w")
        watch_env = {**env, "ALT_TEXT_API_KEY": API_KEY, "ALT_TEXT_API_URL": f"http://127.0.0.1:{fake_port}"}
        watch = subprocess.Popen(
            ["cargo", "lambda", "watch", "--invoke-port", str(watch_port)],
            cwd=root,
            env=watch_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(watch)
        wait_for_port(watch_port, watch, "cargo lambda watch", timeout=120)

        events = sorted((root / "events").glob("*.json"))
        bad = []
        for event in events:
            started = time.time()
            response = invoke(env, watch_port, event)
            took = time.time() - started
            if "batchItemFailures" in response:
                ok = response["batchItemFailures"] == []
                shown = f"SQS: {len(response['batchItemFailures'])} message(s) to retry"
            elif "results" in response:
                ok = all(r["resultCode"] == "Succeeded" for r in response["results"])
                shown = "Batch Operations: " + ", ".join(r["resultCode"] for r in response["results"])
            else:
                ok = response["failed"] == 0
                shown = ", ".join(f"{o['key']} {o['outcome']}" for o in response["objects"]) or "no object"
            print(f"  {'ok ' if ok else 'BAD'} {event.name} ({took:.1f} s): {shown}")
            if not ok:
                bad.append(event.name)
        for key, (state, detail, tag_count) in EXPECTED.items():
            tags = local.tags(key)
            record = local.record(key) or {}
            shown = record.get("provider") or record.get("reason") or ""
            ok = record.get("state") == state and detail in shown and len(tags) == tag_count
            print(f"  {'ok ' if ok else 'BAD'} {key}: {record.get('state')} {shown} ({len(tags)} tags)")
            if not ok:
                bad.append(key)
        again = invoke(env, watch_port, root / "events/s3-put.json")
        replay_ok = [o["outcome"] for o in again["objects"]] == ["unchanged"]
        print(f"  {'ok ' if replay_ok else 'BAD'} s3-put.json replayed: {[o['outcome'] for o in again['objects']]}")
        if bad or not replay_ok:
            print(f"cargo-lambda replay: {len(bad) + (not replay_ok)} unexpected outcome(s)")
            return 1
        print(f"cargo-lambda replay: {len(events) + 1} events, every object as expected")
        return 0
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
