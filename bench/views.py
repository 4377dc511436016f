"""How fast the views answer, over a production-sized lake, and against DuckDB.

Run from the project folder::

    .venv/bin/python -m bench.views [--days 30] [--per-day 1_000_000] [--repeats 7]
        [--lake DIR] [--out var/bench/views.json] [--browser]

1. **The lake** (built once, reused while complete): ``--days`` days of realistic traffic
   (:func:`data.demo.generate_events`, limits scaled so that a day has about ``--per-day``
   calls) ending at the real "now", stored through :meth:`data.lake.Lake.append` in batches of
   250,000 events; every closed day is then compacted (:meth:`data.lake.Lake.compact`), as the
   app's upkeep does. The open day stays uncompacted: its last hours arrive as ~10 smaller
   batches, as live ingest leaves it. A reused lake is filled up to "now", every closed day
   goes through compaction again (a no-op once final) and the open day is written afresh,
   so every run measures the same shape.
2. **Our answers** — in a child process that imports the whole app, as a gunicorn worker does,
   with the clock fixed at one instant: every view's questions through the public functions
   (:mod:`data.stats`, :mod:`data.usage`, :mod:`data.forecast`). *cold*: an empty statistics
   cache (a new ``APIDASH_CACHE_DIR`` per question and repeat, the process's cached settings,
   lake and cache reset); *warm*: the same call again in the same refresh period; *next
   period*: the same view one refresh period later (what the first viewer of each period
   waits for once the cache is filled). Its peak RSS is the "web worker peak memory".
3. **DuckDB** — in a second child process: the same questions in SQL over the same live
   Parquet files (:meth:`data.lake.Lake.files`), the same instants and filters. Its answers
   must equal ours (calls, credits, errors); a difference is reported as a bug.
4. With ``--browser``: ``gunicorn app:server`` over a copy of the lake on a free 127.0.0.1 port and
   headless Chromium, from navigation start until the Overview's cards and time chart are
   drawn, on an empty statistics cache (cold) and again (warm).

Only public functions are called, so the figures stay comparable when the statistics change
how they read closed days.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import load_settings  # noqa: E402
from data.cache import period_bounds  # noqa: E402
from data.demo import generate_events  # noqa: E402
from data.lake import Lake, day_folder  # noqa: E402
from data.timerange import resolve  # noqa: E402
from data.usage import v1_day_start  # noqa: E402

MARKER = ".bench-lake.json"  # hidden: the lake skips names that start with a dot
BATCH = 250_000
OPEN_DAY_TAIL = timedelta(hours=3)  # the open day's last hours arrive as small batches
UPKEEP_INTERVAL = timedelta(minutes=10)  # APIDASH_MAINTENANCE_MINUTES' default
OPEN_DAY = {"mode": "upkept"}  # --open-day: "upkept" (as in production) or "raw" (worst case)
OPEN_DAY_TAIL_BATCHES = 10
DEFAULT_LIMITS = (100_000, 25_000)
VERSION = "v2"  # the views' default version
MS = timedelta(milliseconds=1)
DIMENSIONS = ("application", "module", "method", "user", "ip", "api_version")
#: The positions of the instants among each statistics question's arguments.
INSTANT_ARGS = {"summary": (0, 1), "ranking": (1, 2), "timeline": (0, 1), "table": (0, 1)}
INSTANT_ARGS["links"] = (2, 3)

TARGET_COLD_MS = 100.0
#: From this many calls a day the issue's only target is cold <= TARGET_COLD_LARGE_MS.
LARGE_PER_DAY = 5_000_000
TARGET_COLD_LARGE_MS = 150.0
TARGET_WARM_MS = 10.0
TARGET_LIVE_MS = 20.0
TARGET_RATIO = 10.0
TARGET_MEMORY_MB = 512.0
BROWSER_TIMEOUT_S = 120
BROWSER_RETRIES = 3  # extra attempts when a page load never draws

DRAWN_JS = """
(function () {
  function drawn() {
    return document.querySelector('#overview-time-chart .main-svg') &&
      document.querySelector('#card-module li');
  }
  var observer = new MutationObserver(function () {
    if (window.__benchDrawn === undefined && drawn()) {
      window.__benchDrawn = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, {childList: true, subtree: true});
})();
"""


# -- helpers ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    lo, hi = math.floor(at), math.ceil(at)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (at - lo)


def peak_rss_mb() -> float:
    """This process's peak resident memory (``ru_maxrss``, KiB on Linux) in MB.

    Linux carries ``ru_maxrss`` over fork + exec, so a child starts from its parent's
    high-water mark: the parent stays small (the lake is built in a child too), and
    :func:`hwm_mb` cross-checks with the peak of this process's own address space.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hwm_mb() -> float | None:
    """``VmHWM`` (peak resident memory of this address space) in MB, on Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def folder_size(root: Path) -> tuple[int, int]:
    """Bytes and number of Parquet files under ``root``."""
    size = files = 0
    for path in root.rglob("*.parquet"):
        size += path.stat().st_size
        files += 1
    return size, files


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


# -- 1. the lake ----------------------------------------------------------------------------


def calibrate(per_day: int, now: datetime, v1_timezone: str) -> tuple[int, int]:
    """Limits that give about ``per_day`` calls a day (the demo's rates follow the limits:
    V2 credits near 70 % of ``limit_v2`` a day, V1 calls near 45 % of ``limit_v1`` a
    weekday), keeping the default V2:V1 proportion. Measured over the last whole week."""
    end = day_start(now.date())
    sample = generate_events(
        end - timedelta(days=7),
        end,
        limit_v2=DEFAULT_LIMITS[0],
        limit_v1=DEFAULT_LIMITS[1],
        v1_timezone=v1_timezone,
    )
    factor = per_day / (sample.height / 7)
    return round(DEFAULT_LIMITS[0] * factor), round(DEFAULT_LIMITS[1] * factor)


def _append_in_batches(lake: Lake, frame: pl.DataFrame, size: int) -> int:
    files = 0
    for offset in range(0, frame.height, size):
        lake.append(frame.slice(offset, size))
        files += 1
    return files


def fill(
    lake: Lake, start: datetime, end: datetime, limits: tuple[int, int], v1_timezone: str
) -> int:
    """Store the demo traffic of ``[start, end)`` day by day; compact every closed day.

    ``end`` is "now": its UTC day is the open day, never compacted here, its last hours in
    ~10 smaller batches as live ingest leaves them. Returns the number of events stored.
    """
    today = end.date()
    stored = 0
    day = start.date()
    while day <= today:
        lo, hi = max(start, day_start(day)), min(end, day_start(day + timedelta(days=1)))
        if lo < hi:
            events = generate_events(
                lo, hi, limit_v2=limits[0], limit_v1=limits[1], v1_timezone=v1_timezone
            )
            stored += events.height
            if day < today:
                _append_in_batches(lake, events, BATCH)
            elif OPEN_DAY["mode"] == "upkept":
                # As in production: the upkeep rolled the open day up at its last round
                # (every APIDASH_MAINTENANCE_MINUTES); what came since is still raw.
                tail_from = max(lo, hi - UPKEEP_INTERVAL)
                _append_in_batches(lake, events.filter(pl.col("ts") < tail_from), BATCH)
                lake.compact(day, grace_s=0)
                tail = events.filter(pl.col("ts") >= tail_from)
                _append_in_batches(lake, tail, max(1, math.ceil(tail.height / 3)))
            else:
                tail_from = max(lo, hi - OPEN_DAY_TAIL)
                head = events.filter(pl.col("ts") < tail_from)
                tail = events.filter(pl.col("ts") >= tail_from)
                _append_in_batches(lake, head, BATCH)
                step = max(1, math.ceil(tail.height / OPEN_DAY_TAIL_BATCHES))
                _append_in_batches(lake, tail, step)
        if day < today:
            lake.compact(day, grace_s=0)  # no reader yet; a no-op once final
        day += timedelta(days=1)
    return stored


def lake_facts(lake: Lake, root: Path, now: datetime) -> dict:
    days = lake.days()
    files = lake.files(day_start(days[0]), day_start(days[-1] + timedelta(days=1))) if days else []
    rows = pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0
    size, count = folder_size(root)
    return {
        "partitions": len(lake.days()),
        "rows": int(rows),
        "bytes": size,
        "files": count,
        "open_day_files": len(lake.live_files(now.date())),
    }


def prepare_lake(root: Path, days: int, per_day: int, settings: Any) -> dict:
    """Build the lake, or reuse a complete one (topped up to now). Returns its description."""
    marker_path = root / MARKER
    marker = json.loads(marker_path.read_text()) if marker_path.exists() else None
    if marker and (marker["days"], marker["per_day"]) != (days, per_day):
        raise SystemExit(f"{root} holds a {marker['days']}x{marker['per_day']} lake: use --lake")
    if marker is None and root.exists() and any(root.iterdir()):
        names = [p.name for p in root.iterdir()]
        if not all(n.startswith(("date=", ".", "window")) for n in names):
            raise SystemExit(f"{root} is not an unfinished benchmark lake: refusing to delete it")
        print(f"removing the unfinished lake {root}", flush=True)
        shutil.rmtree(root)
    lake = Lake(root, retention_days=days)
    now = datetime.now(UTC).replace(microsecond=0)
    if marker is None:
        limits = calibrate(per_day, now, settings.v1_timezone)
        print(
            f"building {days} days x ~{per_day:,} calls in {root} "
            f"(limit_v2={limits[0]:,}, limit_v1={limits[1]:,})",
            flush=True,
        )
        started = time.perf_counter()
        stored = fill(lake, now - timedelta(days=days), now, limits, settings.v1_timezone)
        seconds = time.perf_counter() - started
        marker = {
            "days": days,
            "per_day": per_day,
            "limit_v2": limits[0],
            "limit_v1": limits[1],
            "v1_timezone": settings.v1_timezone,
            "built_at": iso(now),
            "until": iso(now),
            "stored": stored,
            "build_seconds": round(seconds, 1),
        }
        action = f"built in {seconds:,.1f} s ({stored:,} events, {stored / seconds:,.0f} ev/s)"
    else:
        limits = (marker["limit_v2"], marker["limit_v1"])
        until = parse_instant(marker["until"])
        started = time.perf_counter()
        # Every run measures the same shape: the days closed since the last run are filled
        # up and compacted (and every closed day goes through compaction again, a no-op once
        # it is in the final form the code wants), then the open day is written afresh.
        midnight = day_start(now.date())
        lake.store.delete_dir(day_folder(now.date()))
        stored = fill(lake, min(until, midnight), now, limits, marker["v1_timezone"])
        for day in lake.days():
            if day < now.date():
                lake.compact(day, grace_s=0)
        lake.prune(now)
        seconds = time.perf_counter() - started
        marker["until"] = iso(now)
        action = (
            f"reused (built {marker['built_at']} in {marker['build_seconds']:,} s); "
            f"topped up to now and the open day rewritten ({stored:,} events) in {seconds:.1f} s"
        )
    lake.refresh_window(now)  # as the upkeep does after compacting
    marker_path.write_text(json.dumps(marker, indent=2) + "\n")
    facts = lake_facts(lake, root, now)
    print(
        f"lake {action}: {facts['rows']:,} events in {facts['partitions']} day partitions, "
        f"{facts['files']} files ({facts['open_day_files']} in the open day), "
        f"{facts['bytes'] / 2**20:,.0f} MiB on disk",
        flush=True,
    )
    return {**marker, **facts, "path": str(root), "action": action, "now": iso(now)}


# -- the questions ------------------------------------------------------------------------------


def questions(now: datetime, settings: Any) -> list[dict]:
    """Every view's questions as of ``now``, as the pages ask them (default filters: the last
    30 days, V2). ``@top:DIM`` stands for the top value of DIM (filled in by the child)."""
    moment, _ = period_bounds(now, settings.refresh_minutes)  # data.stats.as_of()

    def rng(preset: str) -> tuple[str, str]:
        r = resolve(
            preset,
            now=moment,
            timezone=settings.timezone,
            retention_days=settings.retention_days,
        )
        return iso(r.start), iso(r.end)

    s30, e30 = rng("30d")
    st, et = rng("today")
    tz = settings.timezone

    def ranking(dim: str) -> list:
        return ["ranking", dim, s30, e30, VERSION]

    timeline_30 = ["timeline", s30, e30, VERSION, "day", tz]
    return [
        {
            "name": "Overview (summary + 5 rankings + 30-day timeline, one pass)",
            "kind": "stats",
            "together": True,  # answered as the page asks: one stats.overview call
            "calls": [
                ["summary", s30, e30, VERSION],
                *(ranking(d) for d in ("application", "module", "ip", "method", "user")),
                timeline_30,
            ],
        },
        *(
            {"name": f"{label}: ranking({dim})", "kind": "stats", "calls": [ranking(dim)]}
            for dim, label in (
                ("application", "Applications"),
                ("module", "Modules"),
                ("ip", "IP addresses"),
                ("user", "Users"),
                ("method", "Methods"),
            )
        ),
        {
            "name": "Time: today by hour",
            "kind": "stats",
            "calls": [["timeline", st, et, VERSION, "hour", tz]],
        },
        {"name": "Time: 30 days by day", "kind": "stats", "calls": [timeline_30]},
        {
            "name": "Connections: links(user=<top>)",
            "kind": "stats",
            "calls": [["links", "user", "@top:user", s30, e30, VERSION]],
        },
        {
            "name": "Live counter (both bars, one live_usage pass)",
            "kind": "live",
            "together": "live",  # as the page reads them
            "calls": [["v2_usage", iso(now)], ["v1_usage", iso(now)]],
        },
        {"name": "V2 outlook", "kind": "outlook", "calls": [["v2_outlook", iso(now)]]},
        # The table questions come last, the unfiltered one at the very end: peak memory only
        # grows, so this order shows what each question before them needs.
        {
            "name": "Table: module=<top>",
            "kind": "stats",
            "calls": [["table", s30, e30, VERSION, "module", "@top:module"]],
        },
        {
            "name": "Table: dim=module",
            "kind": "stats",
            "calls": [["table", s30, e30, VERSION, "module", None]],
        },
    ]


def fill_tops(specs: list[dict], tops: dict[str, str]) -> list[dict]:
    def value(v: Any) -> Any:
        return tops[v.split(":", 1)[1]] if isinstance(v, str) and v.startswith("@top:") else v

    return [{**q, "calls": [[value(v) for v in call] for call in q["calls"]]} for q in specs]


# -- 2. our answers (child process) -----------------------------------------------------------


def _reset(cache_dir: Path) -> None:
    """A new, empty statistics cache and the process-level caches cleared (as the tests do).

    The cache's folder and SQLite file are created here, before the timer starts: a worker
    creates them once in its life, not for each question it answers."""
    from config import get_settings
    from data.cache import get_cache
    from data.runtime import get_lake

    os.environ["APIDASH_CACHE_DIR"] = str(cache_dir)
    get_settings.cache_clear()
    get_lake.cache_clear()
    get_cache.cache_clear()
    get_cache()


def _ours(call: list) -> Any:
    from config import get_settings
    from data import stats
    from data.forecast import v2_outlook
    from data.runtime import get_lake
    from data.usage import v1_usage, v2_usage

    kind, *args = call
    if kind in INSTANT_ARGS:
        args = [parse_instant(a) if i in INSTANT_ARGS[kind] else a for i, a in enumerate(args)]
        return getattr(stats, kind)(*args)
    settings, now = get_settings(), parse_instant(args[0])
    if kind == "v2_usage":
        return v2_usage(get_lake(), settings.limit_v2, now)
    if kind == "v1_usage":
        return v1_usage(get_lake(), settings.limit_v1, settings.v1_timezone, now)
    if kind == "v2_outlook":
        return v2_outlook(get_lake(), settings.limit_v2, now)
    raise ValueError(kind)


def _as_frame(call: list, answer: Any, timezone: str) -> pl.DataFrame:
    """Our answer in the shape both sides are compared in."""
    kind = call[0]
    if kind == "summary":
        return pl.DataFrame([answer])
    if kind == "ranking":
        return answer.select("value", "calls", "credits", "errors")
    if kind == "timeline":
        local = pl.col("bucket").dt.convert_time_zone(timezone).dt.strftime("%Y-%m-%d %H:%M")
        return answer.select(
            local.alias("bucket"), "api_version", "calls", "credits", "errors"
        ).sort("bucket", "api_version")
    if kind in ("table", "links"):
        return answer
    if kind in ("v2_usage", "v1_usage"):
        return pl.DataFrame({"used": [answer.used]})
    if kind == "v2_outlook":
        return pl.DataFrame(
            {
                "used": [answer.used],
                "rate": [answer.rate_per_hour],
                "driver": [answer.driver],
                "returning": [answer.returning.get_column("credits").to_list()],
            }
        )
    raise ValueError(kind)


def _timed(calls: list[list], run: Callable[[list], Any]) -> tuple[float, list]:
    started = time.perf_counter()
    answers = [run(call) for call in calls]
    return 1000 * (time.perf_counter() - started), answers


def _overview_at_once(calls: list[list]) -> list:
    """The Overview as the page asks it: one ``stats.overview`` call (one pass over shared
    scans) answering the summary, the rankings and the timeline listed in ``calls``."""
    from data import stats

    (_, start, end, version), *rest = calls
    rankings, (_, _, _, _, bucket, timezone) = rest[:-1], rest[-1]
    tops = tuple((call[1], call[4]) for call in rankings)
    answer = stats.overview(
        parse_instant(start), parse_instant(end), version, bucket, timezone, tops
    )
    return [answer["summary"], *(answer["rankings"][t] for t in tops), answer["timeline"]]


def _live_at_once(calls: list[list]) -> list:
    """Both usage bars as the page reads them: one ``live_usage`` pass."""
    from config import get_settings
    from data.runtime import get_lake
    from data.usage import live_usage

    settings = get_settings()
    now = parse_instant(calls[0][1])
    return list(
        live_usage(get_lake(), settings.limit_v2, settings.limit_v1, settings.v1_timezone, now)
    )


def _timed_question(question: dict) -> tuple[float, list]:
    together = question.get("together")
    if not together:
        return _timed(question["calls"], _ours)
    started = time.perf_counter()
    run = _live_at_once if together == "live" else _overview_at_once
    answers = run(question["calls"])
    return 1000 * (time.perf_counter() - started), answers


def child_dashboard(spec: dict) -> dict:
    import app  # noqa: F401 - a gunicorn worker has the whole app loaded
    from config import get_settings
    from data import clock, stats

    work = Path(spec["work"])
    now, later = parse_instant(spec["now"]), parse_instant(spec["next_now"])
    baseline = peak_rss_mb()
    clock.set_now(now)
    _reset(work / "cache-setup")
    tz = get_settings().timezone
    s30, e30 = (parse_instant(spec["range_30d"][0]), parse_instant(spec["range_30d"][1]))
    tops = {
        dim: stats.ranking(dim, s30, e30, VERSION).get_column("value")[0]
        for dim in ("module", "user")
    }
    specs = fill_tops(spec["questions"], tops)
    next_specs = fill_tops(spec["next_questions"], tops)
    times: dict[str, dict[str, list[float]]] = {
        q["name"]: {"cold": [], "warm": [], "next": []} for q in specs
    }
    rss_after: dict[str, float] = {}
    answers_dir = work / "answers-ours"
    answers_dir.mkdir(parents=True, exist_ok=True)
    for repeat in range(spec["repeats"]):
        for index, (question, following) in enumerate(zip(specs, next_specs, strict=True)):
            clock.set_now(now)
            _reset(work / f"cache-{index}-{repeat}")
            cold, answers = _timed_question(question)
            warm, _ = _timed_question(question)
            entry = times[question["name"]]
            entry["cold"].append(cold)
            entry["warm"].append(warm)
            if question["kind"] == "stats":
                clock.set_now(later)
                entry["next"].append(_timed_question(following)[0])
                clock.set_now(now)
            if repeat == 0:
                for n, (call, answer) in enumerate(zip(question["calls"], answers, strict=True)):
                    _as_frame(call, answer, tz).write_parquet(answers_dir / f"{index}-{n}.parquet")
                rss_after[question["name"]] = round(peak_rss_mb(), 1)
        print(f"  ours: repeat {repeat + 1}/{spec['repeats']} done", file=sys.stderr, flush=True)
    hwm = hwm_mb()
    return {
        "questions": specs,
        "tops": tops,
        "times": times,
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "vm_hwm_mb": round(hwm, 1) if hwm is not None else None,
        "peak_rss_after_mb": rss_after,
    }


# -- 3. DuckDB (child process) ----------------------------------------------------------------


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _measures() -> str:
    return "count(*) AS calls, sum(credits) AS credits, count_if(status >= 400) AS errors"


def _duck(con: Any, lake: Lake, retention: timedelta, now: datetime, call: list) -> pl.DataFrame:
    """One question in SQL over the live files of its days, with the lake's filters."""
    kind, *args = call
    cutoff = now - retention
    app = "coalesce(application, '(no application)')"

    def source(start: datetime, end: datetime, version: str, where: str = "") -> tuple[str, dict]:
        start = max(start, cutoff)
        files = lake.files(start, end)
        if not files or start >= end:
            files = []
        sql = (
            f"SELECT * FROM read_parquet({_sql_list(files)}) "
            f"WHERE ts >= $start AND ts < $end AND api_version = '{version}' {where}"
        )
        return sql, {"start": start, "end": end}

    if kind in ("summary", "ranking", "timeline", "table", "links"):
        if kind == "ranking":
            dim, start, end, version = args
        elif kind == "links":
            dim, value, start, end, version = args
        else:
            start, end, version, *rest = args
        start, end = parse_instant(start), parse_instant(end)
        if kind == "summary":
            base, params = source(start, end, version)
            query = f"SELECT {_measures()} FROM ({base})"
        elif kind == "ranking":
            base, params = source(start, end, version)
            column = app if dim == "application" else f'"{dim}"'
            query = (
                f"SELECT {column} AS value, {_measures()} FROM ({base}) "
                "GROUP BY ALL ORDER BY calls DESC, value"
            )
        elif kind == "timeline":
            bucket, tz = rest
            base, params = source(start, end, version)
            # Quarter hours first (every zone's offset is a multiple of 15 minutes), then the
            # local day or hour of those few thousand rows: ICU time zone arithmetic on every
            # row would cost DuckDB 3x more, and the answer is the same.
            query = (
                f"WITH q AS (SELECT epoch_ms(ts) // 900000 AS q, api_version, {_measures()} "
                f"FROM ({base}) GROUP BY ALL) "
                f"SELECT strftime(date_trunc('{bucket}', timezone($tz, to_timestamp(q * 900))), "
                "'%Y-%m-%d %H:%M') AS bucket, api_version, sum(calls) AS calls, "
                "sum(credits) AS credits, sum(errors) AS errors FROM q GROUP BY ALL ORDER BY 1, 2"
            )
            params["tz"] = tz
        elif kind == "table":
            dim, value = rest
            where = f'AND "{dim}" = $value' if value is not None else ""
            base, params = source(start, end, version, where)
            if value is not None:
                params["value"] = value
            query = (
                f'SELECT {app} AS application, module, method, "user", ip, api_version, '
                f"{_measures()}, quantile_disc(latency_ms, 0.95) AS p95_ms "
                f"FROM ({base}) GROUP BY ALL ORDER BY calls DESC"
            )
        else:  # links
            base, params = source(start, end, version, f'AND "{dim}" = $value')
            params["value"] = value
            parts = [
                f"SELECT '{other}' AS dimension, "
                f"{app if other == 'application' else chr(34) + other + chr(34)} AS value, "
                "count(*) AS calls FROM chosen GROUP BY ALL"
                for other in DIMENSIONS
                if other != dim
            ]
            query = f"WITH chosen AS ({base}) " + " UNION ALL ".join(parts)
        return con.sql(query, params=params).pl()
    moment = parse_instant(args[0])
    if kind in ("v2_usage", "v1_usage"):
        if kind == "v2_usage":
            start, measure, version = moment - timedelta(hours=24), "sum(credits)", "v2"
        else:
            start = v1_day_start(moment, _settings().v1_timezone) - MS
            measure, version = "count(*)", "v1"
        files = lake.files(start, moment + MS)
        query = (
            f"SELECT coalesce({measure}, 0)::BIGINT AS used FROM read_parquet({_sql_list(files)}) "
            f"WHERE ts > $start AND ts < $end AND api_version = '{version}'"
        )
        return con.sql(query, params={"start": start, "end": moment + MS}).pl()
    if kind == "v2_outlook":
        # As of the last whole minute t: the window [t - 24 h, t) (data.forecast).
        moment = moment.replace(second=0, microsecond=0)
        start = moment - timedelta(hours=24)
        files = lake.files(start, moment)
        base = (
            f"SELECT ts, credits, application FROM read_parquet({_sql_list(files)}) "
            "WHERE ts >= $start AND ts < $end AND api_version = 'v2'"
        )
        params = {"start": start, "end": moment}
        start_ms = int(start.timestamp() * 1000)
        minutes = con.sql(
            f"SELECT (epoch_ms(ts) - {start_ms}) // 60000 AS m, "
            f"sum(credits) AS credits FROM ({base}) GROUP BY 1",
            params=params,
        ).fetchall()
        last_hour = con.sql(
            f"SELECT application, sum(credits) AS credits FROM ({base}) WHERE ts >= $hour "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            params={**params, "hour": moment - timedelta(hours=1)},
        ).fetchall()
        back = [0] * 24
        for minute, credits in minutes:
            back[int(minute) // 60] += int(credits)
        rate = sum(int(c) for _, c in last_hour)
        return pl.DataFrame(
            {
                "used": [sum(back)],
                "rate": [rate],
                "driver": [last_hour[0][0] if rate else None],
                "returning": [back],
            }
        )
    raise ValueError(kind)


def _settings() -> Any:
    from config import get_settings

    return get_settings()


def child_duckdb(spec: dict) -> dict:
    import duckdb

    settings = _settings()
    now = parse_instant(spec["now"])
    lake = Lake(spec["lake"], retention_days=settings.retention_days)
    retention = timedelta(days=settings.retention_days)
    times: dict[str, list[float]] = {q["name"]: [] for q in spec["questions"]}
    answers_dir = Path(spec["work"]) / "answers-duckdb"
    answers_dir.mkdir(parents=True, exist_ok=True)
    for repeat in range(spec["repeats"]):
        for index, question in enumerate(spec["questions"]):
            con = duckdb.connect()  # a new connection per question: nothing cached between
            con.execute(f"SET threads = {os.cpu_count()}")
            elapsed, answers = _timed(
                question["calls"],
                lambda call, con=con: _duck(con, lake, retention, now, call),
            )
            con.close()
            times[question["name"]].append(elapsed)
            if repeat == 0:
                for n, answer in enumerate(answers):
                    answer.write_parquet(answers_dir / f"{index}-{n}.parquet")
        print(f"  duckdb: repeat {repeat + 1}/{spec['repeats']} done", file=sys.stderr, flush=True)
    return {"times": times, "peak_rss_mb": round(peak_rss_mb(), 1), "duckdb": duckdb.__version__}


def run_child(mode: str, spec: dict, env: dict[str, str]) -> dict:
    work = Path(spec["work"])
    spec_path, out_path = work / f"{mode}-spec.json", work / f"{mode}-result.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "bench.views", "--child", mode, "--spec", str(spec_path)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return json.loads(out_path.read_text())


# -- comparing the answers ----------------------------------------------------------------------


def compare(work: Path, specs: list[dict]) -> tuple[list[str], list[str]]:
    """Differences between our answers and DuckDB's: (bugs, notes)."""
    bugs: list[str] = []
    notes: list[str] = []
    for index, question in enumerate(specs):
        for n, call in enumerate(question["calls"]):
            ours = pl.read_parquet(work / "answers-ours" / f"{index}-{n}.parquet")
            theirs = pl.read_parquet(work / "answers-duckdb" / f"{index}-{n}.parquet")
            where = f"{question['name']} / {call[0]}"
            if call[0] == "table":
                keys = list(DIMENSIONS)
                p95 = ours.join(theirs, on=keys, how="inner", suffix="_duckdb").filter(
                    pl.col("p95_ms") != pl.col("p95_ms_duckdb")
                )
                if p95.height:
                    # Ours is read from log sketches (within 2.5 %), DuckDB's is exact.
                    off = ((1 + pl.col("p95_ms")) / (1 + pl.col("p95_ms_duckdb")) - 1).abs()
                    worst = p95.select(off.max()).item()
                    notes.append(
                        f"{where}: p95 latency differs in {p95.height} of {ours.height} rows, "
                        f"by at most {100 * worst:.2f} % (sketch vs exact)"
                    )
                ours, theirs = ours.drop("p95_ms"), theirs.drop("p95_ms")
            if call[0] == "v2_outlook":
                same = ours.rows() == theirs.select(ours.columns).rows()
            else:
                cols = ours.columns
                theirs = theirs.select(cols)
                numeric = [c for c, t in ours.schema.items() if t.is_numeric()]
                ours = ours.with_columns(pl.col(numeric).cast(pl.Int64)).sort(cols)
                theirs = theirs.with_columns(pl.col(numeric).cast(pl.Int64)).sort(cols)
                same = ours.equals(theirs)
            if not same:
                bugs.append(
                    f"{where}: ours {ours.height} rows, DuckDB {theirs.height} rows\n"
                    f"ours: {ours.head(5)}\nduckdb: {theirs.head(5)}"
                )
    return bugs, notes


# -- 4. the browser -----------------------------------------------------------------------------


def _driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DRAWN_JS})
    return driver


def _page_load(driver: Any, url: str) -> float:
    """Milliseconds from navigation start until the cards and the time chart are drawn."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    return float(
        WebDriverWait(driver, BROWSER_TIMEOUT_S, poll_frequency=0.05).until(
            lambda d: d.execute_script("return window.__benchDrawn || null")
        )
    )


def _console_errors(driver: Any) -> list[str]:
    try:
        return [e["message"][:300] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    except Exception:  # noqa: BLE001 - the log is a diagnostic only
        return []


def bench_browser(env: dict[str, str], work: Path, repeats: int) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from selenium.common.exceptions import TimeoutException

    from servers import gunicorn

    cold: list[float] = []
    warm: list[float] = []
    failures: list[dict] = []
    app_env = {k: v for k, v in env.items() if k.startswith("APIDASH_")}
    attempt = 0
    while len(cold) < repeats and attempt < repeats + BROWSER_RETRIES:
        attempt += 1
        cache = work / f"browser-cache-{attempt}"
        # The server's upkeep compacts (and may prune) at its first request: give it a copy,
        # so that the benchmark's lake keeps its shape for the next run.
        copy = work / f"browser-lake-{attempt}"
        shutil.copytree(env["APIDASH_DATA_DIR"], copy, ignore=shutil.ignore_patterns(".locks"))
        app_env["APIDASH_DATA_DIR"] = str(copy)
        with gunicorn({**app_env, "APIDASH_CACHE_DIR": str(cache)}) as base:
            driver = _driver()
            try:
                first = _page_load(driver, base + "/")
                again = _page_load(driver, base + "/")
            except TimeoutException:
                errors = _console_errors(driver)
                failures.append({"attempt": attempt, "console_errors": errors})
                print(
                    f"  browser: attempt {attempt}: the Overview was not drawn within "
                    f"{BROWSER_TIMEOUT_S} s; console: {errors[:2]}",
                    flush=True,
                )
                continue
            finally:
                driver.quit()
        cold.append(first)
        warm.append(again)
        print(
            f"  browser: run {len(cold)}/{repeats}: cold {first:,.0f} ms, warm {again:,.0f} ms",
            flush=True,
        )
    result: dict[str, Any] = {
        "runs": len(cold),
        "workers": 2,
        "threads": 4,
        "failures": failures,
        "cold_ms": [round(v, 1) for v in cold],
        "warm_ms": [round(v, 1) for v in warm],
    }
    for name, values in (("cold", cold), ("warm", warm)):
        for label, q in (("p50", 0.5), ("p95", 0.95)):
            result[f"{name}_{label}_ms"] = round(percentile(values, q), 1) if values else None
    return result


# -- results ------------------------------------------------------------------------------------


def summarise(specs: list[dict], ours: dict, duck: dict, per_day: int) -> list[dict]:
    """One row per question; ``target_met`` by the issue's targets for ``per_day`` calls a day
    (at 1M: cold p95 <= 100 ms, 10x DuckDB, warm <= 10 ms, live <= 20 ms; at 5M: cold <= 150
    ms)."""
    rows = []
    for question in specs:
        name, kind = question["name"], question["kind"]
        t = ours["times"][name]
        row: dict[str, Any] = {"question": name, "kind": kind}
        for mode in ("cold", "warm", "next"):
            if t[mode]:
                row[f"{mode}_p50_ms"] = round(percentile(t[mode], 0.5), 2)
                row[f"{mode}_p95_ms"] = round(percentile(t[mode], 0.95), 2)
            else:
                row[f"{mode}_p50_ms"] = row[f"{mode}_p95_ms"] = None
        row["duckdb_p50_ms"] = round(percentile(duck["times"][name], 0.5), 2)
        row["ratio"] = round(row["duckdb_p50_ms"] / row["cold_p50_ms"], 2)
        missed = []
        if per_day >= LARGE_PER_DAY:
            if row["cold_p95_ms"] > TARGET_COLD_LARGE_MS:
                missed.append(
                    f"cold p95 {fmt_ms(row['cold_p95_ms'])} ms > {TARGET_COLD_LARGE_MS:.0f} ms"
                )
        elif kind == "live":
            worst = max(row["cold_p95_ms"], row["warm_p95_ms"])
            if worst > TARGET_LIVE_MS:
                missed.append(f"p95 {fmt_ms(worst)} ms > {TARGET_LIVE_MS:.0f} ms")
        else:
            cold_limit = TARGET_COLD_MS
            if row["cold_p95_ms"] > cold_limit:
                missed.append(f"cold p95 {fmt_ms(row['cold_p95_ms'])} ms > {cold_limit:.0f} ms")
            if kind == "stats" and row["warm_p95_ms"] > TARGET_WARM_MS:
                missed.append(f"warm p95 {fmt_ms(row['warm_p95_ms'])} ms > {TARGET_WARM_MS:.0f}")
            if kind == "outlook" and row["warm_p95_ms"] > cold_limit:
                missed.append(f"p95 {fmt_ms(row['warm_p95_ms'])} ms > {cold_limit:.0f} ms")
        if per_day < LARGE_PER_DAY and row["ratio"] < TARGET_RATIO:
            missed.append(f"{row['ratio']:.2f}x DuckDB < {TARGET_RATIO:.0f}x")
        row["target_met"] = not missed
        row["missed"] = missed
        rows.append(row)
    return rows


def render(rows: list[dict]) -> str:
    header = (
        "question",
        "cold p50",
        "cold p95",
        "warm p50",
        "warm p95",
        "next p50",
        "duckdb p50",
        "ratio",
        "target met?",
    )
    lines = [header]
    for r in rows:
        lines.append(
            (
                r["question"],
                fmt_ms(r["cold_p50_ms"]),
                fmt_ms(r["cold_p95_ms"]),
                fmt_ms(r["warm_p50_ms"]),
                fmt_ms(r["warm_p95_ms"]),
                fmt_ms(r["next_p50_ms"]),
                fmt_ms(r["duckdb_p50_ms"]),
                f"{r['ratio']:.2f}x",
                "yes" if r["target_met"] else "no: " + "; ".join(r["missed"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for n, line in enumerate(lines):
        numbers = zip(line[1:-1], widths[1:], strict=True)
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in numbers]
        out.append("  ".join(cells + [line[-1]]))
        if n == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def code_state() -> dict:
    """Which code was measured (no git here): a digest of data/*.py and the newest file."""
    files = sorted((ROOT / "data").glob("*.py"))
    digest = hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files))
    newest = max(files, key=lambda f: f.stat().st_mtime)
    return {
        "data_sha256": digest.hexdigest()[:16],
        "newest": newest.name,
        "newest_mtime": iso(datetime.fromtimestamp(newest.stat().st_mtime, UTC)),
    }


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": metadata.version("duckdb"),  # not imported: the parent stays small
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.views", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--days", type=int, default=30, help="days of traffic in the lake")
    parser.add_argument("--per-day", type=int, default=1_000_000, help="calls per day (about)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of every question")
    parser.add_argument("--lake", type=Path, help="lake folder (default var/bench/lake-DxN)")
    parser.add_argument("--out", type=Path, default=ROOT / "var/bench/views.json")
    parser.add_argument("--browser", action="store_true", help="also time the Overview in Chromium")
    parser.add_argument("--browser-repeats", type=int, default=3, help="cold/warm page loads")
    parser.add_argument(
        "--open-day",
        choices=("upkept", "raw"),
        default="upkept",
        help="the open day as the upkeep leaves it (rolled up but for its last 10 minutes), "
        "or all raw (the worst case: the upkeep never ran today)",
    )
    parser.add_argument("--child", choices=("build", "dashboard", "duckdb"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        spec = json.loads(args.spec.read_text())
        if args.child == "build":
            OPEN_DAY["mode"] = spec.get("open_day", "upkept")
            result = prepare_lake(
                Path(spec["lake"]), spec["days"], spec["per_day"], load_settings()
            )
        elif args.child == "dashboard":
            result = child_dashboard(spec)
        else:
            result = child_duckdb(spec)
        (args.spec.parent / f"{args.child}-result.json").write_text(json.dumps(result))
        return 0

    started = time.perf_counter()
    root = (args.lake or ROOT / "var/bench" / f"lake-{args.days}x{args.per_day}").resolve()
    (ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-views-", dir=ROOT / "var/bench") as tmp:
        results = measure(args, root, Path(tmp), argv)
    rows, memory, answers = results["questions"], results["memory"], results["answers"]
    print()
    print(render(rows))
    print(
        f"\nweb worker peak memory: {memory['web_worker_peak_mb']:,.0f} MB "
        f"(VmHWM {memory['web_worker_vm_hwm_mb']:,.0f} MB; "
        f"after importing the app: {memory['after_app_import_mb']:,.0f} MB; "
        f"target {TARGET_MEMORY_MB:.0f} MB: {'met' if memory['target_met'] else 'MISSED'})"
    )
    print(f"DuckDB child peak memory: {memory['duckdb_child_peak_mb']:,.0f} MB")
    load = results["load_average"]
    print(f"load average (1 min) before/after timing: {load['before']} / {load['after']}")
    if results.get("browser", {}).get("runs"):
        b = results["browser"]
        print(
            f"browser, Overview drawn: cold p50 {b['cold_p50_ms']:,.0f} ms "
            f"(p95 {b['cold_p95_ms']:,.0f}), warm p50 {b['warm_p50_ms']:,.0f} ms "
            f"(p95 {b['warm_p95_ms']:,.0f})"
        )
    for failure in results.get("browser", {}).get("failures", []):
        print(f"browser attempt {failure['attempt']} never drew: {failure['console_errors'][:2]}")
    for note in answers["notes"]:
        print(f"note: {note}")
    for bug in answers["mismatches"]:
        print(f"MISMATCH: {bug}")
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out} ({results['seconds']:,.0f} s in all)")
    return 1 if answers["mismatches"] else 0


def measure(args: argparse.Namespace, root: Path, work: Path, argv: list[str] | None) -> dict:
    """Build or reuse the lake, time both sides, compare them (and the browser)."""
    base_settings = load_settings()
    spec = {
        "work": str(work),
        "lake": str(root),
        "days": args.days,
        "per_day": args.per_day,
        "open_day": args.open_day,
    }
    lake_info = run_child("build", spec, dict(os.environ))

    env = dict(os.environ)
    env.update(
        APIDASH_DATA_DIR=str(root),
        APIDASH_DEMO="off",
        APIDASH_LIMIT_V2=str(lake_info["limit_v2"]),
        APIDASH_LIMIT_V1=str(lake_info["limit_v1"]),
        APIDASH_V1_TIMEZONE=lake_info["v1_timezone"],
        APIDASH_RETENTION_DAYS=str(max(args.days, base_settings.retention_days)),
    )
    settings = load_settings(env)
    now = datetime.now(UTC).replace(microsecond=0)  # the clock is fixed here in both children
    later = now + timedelta(minutes=settings.refresh_minutes)
    specs = questions(now, settings)
    moment, _ = period_bounds(now, settings.refresh_minutes)
    r30 = resolve(
        "30d", now=moment, timezone=settings.timezone, retention_days=settings.retention_days
    )
    results: dict[str, Any] = {
        "when": iso(now),
        "command": "python -m bench.views " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "code": code_state(),
        "lake": lake_info,
        "settings": {
            "timezone": settings.timezone,
            "v1_timezone": settings.v1_timezone,
            "refresh_minutes": settings.refresh_minutes,
            "retention_days": settings.retention_days,
            "limit_v2": settings.limit_v2,
            "limit_v1": settings.limit_v1,
        },
        "repeats": args.repeats,
        # Other work on the machine skews every figure: the 1-minute load average before and
        # after the timed children (2 cores: anything above ~1 is someone else's work).
        "load_average": {"before": round(os.getloadavg()[0], 2)},
    }
    spec = {
        "work": str(work),
        "lake": str(root),
        "now": iso(now),
        "next_now": iso(later),
        "repeats": args.repeats,
        "range_30d": [iso(r30.start), iso(r30.end)],
        "questions": specs,
        "next_questions": questions(later, settings),
    }
    print(f"timing our answers ({args.repeats} repeats, clock fixed at {iso(now)})", flush=True)
    ours = run_child("dashboard", spec, env)
    resolved = ours["questions"]
    print("timing DuckDB over the same files", flush=True)
    duck = run_child("duckdb", {**spec, "questions": resolved}, env)
    results["load_average"]["after"] = round(os.getloadavg()[0], 2)
    bugs, notes = compare(work, resolved)
    results["tops"] = ours["tops"]
    results["questions"] = summarise(resolved, ours, duck, args.per_day)
    results["memory"] = {
        "web_worker_peak_mb": ours["peak_rss_mb"],
        "web_worker_vm_hwm_mb": ours["vm_hwm_mb"],
        "after_app_import_mb": ours["baseline_rss_mb"],
        "peak_after_question_mb": ours["peak_rss_after_mb"],
        "duckdb_child_peak_mb": duck["peak_rss_mb"],
        "parent_peak_mb": round(peak_rss_mb(), 1),  # children start from at least this
        "target_mb": TARGET_MEMORY_MB,
        "target_met": ours["peak_rss_mb"] <= TARGET_MEMORY_MB,
    }
    results["answers"] = {"mismatches": bugs, "notes": notes}
    results["raw_ms"] = {"ours": ours["times"], "duckdb": duck["times"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")  # kept if the browser part fails
    if args.browser:
        print("timing the Overview in headless Chromium", flush=True)
        results["browser"] = bench_browser(env, work, args.browser_repeats)
    return results


if __name__ == "__main__":
    sys.exit(main())
