"""Durable ingest throughput: over HTTP, from a file, and in process.

Run from the project folder::

    .venv/bin/python -m bench.ingest [--events N] [--batch B] [--out results.json]

Every figure is for durable ingest: each accepted batch is written to a new Parquet file,
fsynced and renamed into place before the answer (see ``data/storage.py``).

1. **HTTP** — the real app under gunicorn (the Procfile's ``gunicorn app:server`` with its
   ``gunicorn.conf.py``: 2 worker processes unless ``WEB_CONCURRENCY`` says otherwise) on a
   free 127.0.0.1 port, a fresh lake, demo off; N events are sent as NDJSON batches of B
   events over 1, then 2 concurrent keep-alive connections (a fresh server and lake each).
2. **File** — ``flask --app app ingest FILE`` on an N-line NDJSON file, end to end (process
   start-up included), into its own lake.
3. **In process** — parse + validate + append of one B-event NDJSON body (median of a few
   runs after a warm-up), with the time of each step, to show where the time goes.

Events are realistic demo traffic (:func:`data.demo.generate_events`, the most recent N of
29 days ending now), each with a unique ``id`` and ``ts`` as an RFC 3339 ``Z`` string.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.demo import generate_events  # noqa: E402
from data.lake import Lake  # noqa: E402
from data.readers import parse_ndjson  # noqa: E402
from data.schema import validate_frame  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
BIN = Path(sys.executable).parent
IN_PROCESS_RUNS = 5


# -- events ---------------------------------------------------------------------------------


def make_events(count: int, now: datetime) -> pl.DataFrame:
    """``count`` realistic events (the most recent of 29 days up to ``now``), unique ids."""
    frame = generate_events(
        now - timedelta(days=29), now - timedelta(minutes=1), limit_v2=100_000, limit_v1=25_000
    )
    if frame.height < count:  # more than 29 days of demo traffic: repeat it, new ids below
        frame = pl.concat([frame] * (count // frame.height + 1))
    frame = frame.tail(count).sort("ts")
    return frame.with_columns(
        ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
        id=pl.concat_str(pl.lit("bench-"), pl.int_range(pl.len()).cast(pl.String)),
    )


def ndjson(frame: pl.DataFrame) -> bytes:
    return frame.write_ndjson().encode()


def batches(frame: pl.DataFrame, size: int) -> list[bytes]:
    return [ndjson(frame.slice(i, size)) for i in range(0, frame.height, size)]


# -- HTTP -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APIDASH_DATA_DIR=str(data_dir),
        APIDASH_CACHE_DIR=str(data_dir.parent / "cache"),
        APIDASH_DEMO="off",
        APIDASH_INGEST_TOKEN=TOKEN,
        APIDASH_INGEST_MAX_BYTES=str(256 * 1024 * 1024),
    )
    env.pop("PORT", None)
    return env


class Server:
    """``gunicorn app:server`` on a free local port, stopped on exit."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.log = open(data_dir.parent / "gunicorn.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "app:server",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                "/dev/null",
            ],
            cwd=ROOT,
            env=app_env(data_dir),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer /health within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def send_all(port: int, bodies: list[bytes], connections: int) -> tuple[int, int]:
    """POST every body over ``connections`` keep-alive connections; (accepted, duplicates)."""
    work: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    for _ in range(connections):
        work.put(None)
    totals = [0, 0]
    failures: list[str] = []
    lock = threading.Lock()
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/x-ndjson",
    }

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            while (body := work.get()) is not None:
                conn.request("POST", "/ingest/events", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 202:
                    failures.append(f"{response.status}: {answer[:300]!r}")
                    return
                result = json.loads(answer)
                with lock:
                    totals[0] += result["accepted"]
                    totals[1] += result["duplicates"]
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"ingest failed: {failures[0]}")
    return totals[0], totals[1]


def bench_http(bodies: list[bytes], events: int, connections: int, work: Path) -> dict:
    data_dir = work / f"http-{connections}" / "lake"
    data_dir.mkdir(parents=True)
    with Server(data_dir) as server:
        t0 = time.perf_counter()
        accepted, duplicates = send_all(server.port, bodies, connections)
        seconds = time.perf_counter() - t0
    if accepted != events:
        raise RuntimeError(f"HTTP ingest stored {accepted:,} of {events:,} events")
    return {
        "connections": connections,
        "events": accepted,
        "duplicates": duplicates,
        "requests": len(bodies),
        "seconds": round(seconds, 3),
        "events_per_s": round(accepted / seconds),
        "ms_per_request": round(1000 * seconds * connections / len(bodies), 1),
    }


# -- file -----------------------------------------------------------------------------------


def bench_file(frame: pl.DataFrame, work: Path) -> dict:
    folder = work / "file"
    folder.mkdir()
    path = folder / "events.ndjson"
    path.write_bytes(ndjson(frame))
    env = app_env(folder / "lake")
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "app", "ingest", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"flask ingest failed: {done.stderr[-2000:]}")
    # Python and the app's imports alone, to tell start-up from ingest.
    t1 = time.perf_counter()
    subprocess.run(
        [str(BIN / "python"), "-c", "import app"], cwd=ROOT, env=env, capture_output=True
    )
    startup = time.perf_counter() - t1
    return {
        "events": frame.height,
        "bytes": path.stat().st_size,
        "seconds": round(seconds, 3),
        "events_per_s": round(frame.height / seconds),
        "startup_seconds": round(startup, 3),
        "events_per_s_without_startup": round(frame.height / max(seconds - startup, 1e-9)),
        "output": done.stdout.strip(),
    }


# -- in process -----------------------------------------------------------------------------


def _timed(step: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    result = step()
    return result, time.perf_counter() - t0


def bench_in_process(frame: pl.DataFrame, size: int, work: Path) -> dict:
    """Parse, validate and append B-event bodies (distinct events) into a fresh lake."""
    lake = Lake(work / "in-process" / "lake")
    runs: list[dict[str, float]] = []
    for run in range(IN_PROCESS_RUNS + 1):  # run 0 warms up
        body = ndjson(frame.slice(run * size, size))
        now = datetime.now(UTC)
        raw, parse_s = _timed(lambda body=body: parse_ndjson(body))
        events, validate_s = _timed(
            lambda raw=raw, now=now: validate_frame(raw.frame, now=now, retention_days=30)
        )
        result, append_s = _timed(lambda events=events: lake.append(events))
        if result.accepted != events.height:
            raise RuntimeError("in-process append did not store the whole batch")
        if run:
            runs.append(
                {"parse": parse_s, "validate": validate_s, "append": append_s, "n": events.height}
            )

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    total = median("parse") + median("validate") + median("append")
    n = runs[0]["n"]
    return {
        "events": int(n),
        "runs": len(runs),
        "parse_ms": round(1000 * median("parse"), 2),
        "validate_ms": round(1000 * median("validate"), 2),
        "append_ms": round(1000 * median("append"), 2),
        "total_ms": round(1000 * total, 2),
        "events_per_s": round(n / total),
        "parse_events_per_s": round(n / median("parse")),
        "validate_events_per_s": round(n / median("validate")),
        "append_events_per_s": round(n / median("append")),
    }


# -- command --------------------------------------------------------------------------------


def table(results: dict) -> str:
    rows = [("path", "events", "seconds", "events/s")]
    for http_run in results["http"]:
        rows.append(
            (
                f"HTTP, {http_run['connections']} connection(s)",
                f"{http_run['events']:,}",
                f"{http_run['seconds']:.2f}",
                f"{http_run['events_per_s']:,}",
            )
        )
    f = results["file"]
    rows.append(
        ("flask ingest FILE", f"{f['events']:,}", f"{f['seconds']:.2f}", f"{f['events_per_s']:,}")
    )
    rows.append(
        (
            f"  (without {f['startup_seconds']:.1f} s start-up)",
            "",
            "",
            f"{f['events_per_s_without_startup']:,}",
        )
    )
    p = results["in_process"]
    rows.append(
        (
            "in process: parse+validate+append",
            f"{p['events']:,}",
            f"{p['total_ms'] / 1000:.3f}",
            f"{p['events_per_s']:,}",
        )
    )
    for step in ("parse", "validate", "append"):
        rows.append(
            (f"  {step}", "", f"{p[step + '_ms'] / 1000:.3f}", f"{p[step + '_events_per_s']:,}")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for index, r in enumerate(rows):
        lines.append(
            f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}"
        )
        if index == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events per measurement")
    parser.add_argument("--batch", type=int, default=10_000, help="events per HTTP request")
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args(argv)

    now = datetime.now(UTC)
    frame = make_events(max(args.events, args.batch * (IN_PROCESS_RUNS + 1)), now)
    events = frame.head(args.events)
    bodies = batches(events, args.batch)
    results: dict = {
        "when": now.isoformat(timespec="seconds"),
        "events": args.events,
        "batch": args.batch,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "polars": pl.__version__,
            "gunicorn_workers": int(os.environ.get("WEB_CONCURRENCY", "2")),
            "gunicorn_threads": int(os.environ.get("GUNICORN_THREADS", "4")),
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        results["http"] = [
            bench_http(bodies, events.height, connections, work) for connections in (1, 2)
        ]
        results["file"] = bench_file(events, work)
        results["in_process"] = bench_in_process(frame, args.batch, work)
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main()
