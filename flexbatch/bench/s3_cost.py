"""``python -m flexbatch.bench.s3_cost``: what IN and OUT on S3 cost against local disk.

The benchmark's synthetic day (10 M events by default) is generated (or reused) under
``--work``, uploaded to a local S3-compatible server (moto's, started here on a free port,
unless ``AWS_ENDPOINT_URL`` names one already), and ``flexbatch run`` of that day is timed
as a child process four ways, alternating: local IN and OUT, then S3 IN and OUT, ``--repeat``
times. Wall time and CPU (user + system of the child) are printed, with the 1-minute load
average before and after each run: a run that started above 0.5 is marked "loaded — not a
result".
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from flexbatch.bench.data import ensure_dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server() -> subprocess.Popen | None:
    if os.environ.get("AWS_ENDPOINT_URL"):
        return None
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
        AWS_SECRET_ACCESS_KEY=os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"),
        AWS_REGION=os.environ.get("AWS_REGION", "us-east-1"),
    )
    return server


def _upload(local: Path, bucket: str) -> None:
    from flexbatch.storage.s3 import make_client

    client = make_client()
    client.create_bucket(Bucket=bucket)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"in/{path.relative_to(local).as_posix()}")


def _timed(args: list[str]) -> tuple[float, float, float, float]:
    """(wall, cpu, load before, load after) of ``flexbatch ARGS`` in a child process."""
    before_load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flexbatch", *args], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, before_load, os.getloadavg()[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flexbatch.bench.s3_cost")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fb-bench")
    args = parser.parse_args(argv)
    dataset = ensure_dataset(args.work, args.events)
    day = dataset.days[0].isoformat()
    server = _start_server()
    bucket = f"fb-bench-{os.getpid()}"
    try:
        _upload(dataset.input, bucket)
        for trial in range(args.repeat):
            local_out = args.work / f"s3cost-out-{trial}"
            shutil.rmtree(local_out, ignore_errors=True)
            where = {
                "local": [str(dataset.input), str(local_out)],
                "s3": [f"s3://{bucket}/in", f"s3://{bucket}/out-{trial}"],
            }
            for name, (inp, out) in where.items():
                wall, cpu, load0, load1 = _timed(
                    ["run", "--date", day, "--input", inp, "--output", out]
                )
                note = "" if load0 < 0.5 else "  loaded — not a result"
                print(
                    f"{name:<6} wall {wall:7.1f} s  cpu {cpu:7.1f} s  "
                    f"load {load0:.2f} -> {load1:.2f}{note}",
                    flush=True,
                )
    finally:
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
