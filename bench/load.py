"""Load test: 50 concurrent analysts and an ingest stream against gunicorn, on loopback only.

    python -m bench.load [--clients 50] [--seconds 30] [--workers 2] [--out var/bench/load.json]

Starts ``gunicorn app:server`` on a free 127.0.0.1 port over a fresh lake filled with the demo
traffic, then for ``--seconds``: each client opens pages as the browser does (the page-routing
callback with a random page and filter, then the live-usage callback), while one more thread
posts NDJSON batches of 1,000 events to ``/ingest/events``. Prints requests, errors and
latency percentiles per kind; bounded in time, it stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from servers import gunicorn  # noqa: E402

TOKEN = "load-test-token"
FAILURES: list[str] = []  # what each failed request answered, for the report
PAGES = ["/", "/applications", "/modules", "/ip-addresses", "/users", "/methods", "/time", "/table"]
QUERIES = [
    "",
    "?range=7d",
    "?range=24h",
    "?version=all",
    "?view=list",
    "?range=today",
    "?dim=module&value=Leads",
    "?dim=user",
    "?view=all",
]


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        FAILURES.append(f"{exc.code} {url}: {exc.read()[:300]!r} (request {body[:200]!r})")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        status = 0
        FAILURES.append(f"no answer from {url}: {exc!r}")
    return status, time.perf_counter() - started


def _route(path: str, query: str) -> bytes:
    return json.dumps(
        {
            "output": ".._pages_content.children..._pages_store.data..",
            "outputs": [
                {"id": "_pages_content", "property": "children"},
                {"id": "_pages_store", "property": "data"},
            ],
            "inputs": [
                {"id": "_pages_location", "property": "pathname", "value": path},
                {"id": "_pages_location", "property": "search", "value": query},
            ],
            "changedPropIds": ["_pages_location.pathname"],
            "state": [],
        }
    ).encode()


LIVE = json.dumps(
    {
        "output": "live-usage-bars.children",
        "outputs": {"id": "live-usage-bars", "property": "children"},
        "inputs": [{"id": "live-usage-interval", "property": "n_intervals", "value": 1}],
        "changedPropIds": ["live-usage-interval.n_intervals"],
        "state": [],
    }
).encode()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}

    def add(self, kind: str, status: int, seconds: float, ok: tuple[int, ...] = (200,)) -> None:
        with self.lock:
            self.times.setdefault(kind, []).append(seconds)
            if status not in ok:
                self.errors[kind] = self.errors.get(kind, 0) + 1

    def table(self) -> list[dict[str, object]]:
        rows = []
        for kind, times in sorted(self.times.items()):
            ordered = sorted(times)
            rows.append(
                {
                    "kind": kind,
                    "requests": len(times),
                    "errors": self.errors.get(kind, 0),
                    "p50_ms": round(statistics.median(ordered) * 1000, 1),
                    "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
                    "max_ms": round(ordered[-1] * 1000, 1),
                }
            )
        return rows


def _events(count: int) -> bytes:
    now = datetime.now(UTC)
    lines = []
    for i in range(count):
        ts = now - timedelta(milliseconds=random.randint(0, 60_000))
        lines.append(
            json.dumps(
                {
                    "ts": ts.isoformat().replace("+00:00", "Z"),
                    "api_version": "v2",
                    "application": random.choice(["Zapier Sync", "Support Portal", "Load Test"]),
                    "module": random.choice(["Leads", "Contacts", "Deals"]),
                    "method": random.choice(["GET", "POST"]),
                    "user": f"load{i % 20}@example.com",
                    "ip": f"192.0.2.{i % 250 + 1}",
                    "credits": 1,
                }
            )
        )
    return "\n".join(lines).encode()


def run(clients: int, seconds: float, workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "APIDASH_DATA_DIR": f"{tmp}/lake",
            "APIDASH_CACHE_DIR": f"{tmp}/cache",
            "APIDASH_INGEST_TOKEN": TOKEN,
            "APIDASH_DEMO": "off",
        }
        flask = str(Path(sys.executable).parent / "flask")
        subprocess.run(
            [flask, "--app", "app", "demo"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        recorder = Recorder()
        with gunicorn(env, workers=workers) as base:
            stop = time.monotonic() + seconds
            json_headers = {"Content-Type": "application/json"}

            def analyst(seed: int) -> None:
                rng = random.Random(seed)
                while time.monotonic() < stop:
                    page = rng.choice(PAGES)
                    status, took = _post(
                        base + "/_dash-update-component",
                        _route(page, rng.choice(QUERIES)),
                        json_headers,
                    )
                    recorder.add("page", status, took)
                    status, took = _post(base + "/_dash-update-component", LIVE, json_headers)
                    recorder.add("live counter", status, took)

            def ingest() -> None:
                headers = {
                    "Authorization": f"Bearer {TOKEN}",
                    "Content-Type": "application/x-ndjson",
                }
                while time.monotonic() < stop:
                    status, took = _post(base + "/ingest/events", _events(1000), headers)
                    recorder.add("ingest (1,000 events)", status, took, ok=(202,))
                    time.sleep(0.25)

            threads = [threading.Thread(target=analyst, args=(i,)) for i in range(clients)]
            threads.append(threading.Thread(target=ingest))
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
    rows = recorder.table()
    total = sum(int(r["requests"]) for r in rows)
    errors = sum(int(r["errors"]) for r in rows)
    return {
        "clients": clients,
        "workers": workers,
        "seconds": round(elapsed, 1),
        "requests": total,
        "errors": errors,
        "rows": rows,
        "failures": FAILURES[:20],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "load.json")
    args = parser.parse_args()
    result = run(args.clients, args.seconds, args.workers)
    print(
        f"{result['clients']} clients + 1 ingest stream, {result['workers']} gunicorn workers,"
        f" {result['seconds']} s: {result['requests']:,} requests, {result['errors']} errors"
    )
    print(f"{'kind':<24}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for row in result["rows"]:
        print(
            f"{row['kind']:<24}{row['requests']:>10,}{row['errors']:>8}{row['p50_ms']:>10}"
            f"{row['p95_ms']:>10}{row['max_ms']:>10}"
        )
    for failure in result["failures"]:
        print(f"failed: {failure}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"(JSON in {args.out})")
    if result["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
