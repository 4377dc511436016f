"""gunicorn settings, read automatically by ``gunicorn app:server`` (the Procfile's web process).

A PaaS sets ``PORT`` (we bind every interface on it); locally we bind 127.0.0.1:8050.
``WEB_CONCURRENCY`` sets the worker processes, ``GUNICORN_THREADS`` the threads per worker.
"""

import os

bind = f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8050"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Warm each worker before it takes traffic.

    Dash finishes its set-up (component scripts, callbacks) at its first request and marks
    that done before it is; with several threads, concurrent first requests can then get
    "dash is not a registered library". One request here, alone, completes it. It also seeds
    an empty lake with the demo data and starts the upkeep thread (see server/background.py).

    Then it draws the live bars and the V2 outlook (never cached: read live at every view) and
    one figure of each kind, so that the first Polars scans and the first Plotly figure of the
    process (together about 300 ms) are not paid by the first viewer. The statistics cache is
    left alone.
    """
    import time

    from app import app, server
    from components.figures import warm_up
    from components.live_usage import live_usage_panel

    response = server.test_client().get(app.config.routes_pathname_prefix + "health")
    started = time.perf_counter()
    try:
        live_usage_panel()
        warm_up()
    except Exception:  # noqa: BLE001 - a warm-up only: the worker serves (and reports) anyway
        worker.log.exception("worker warm-up failed")
    worker.log.info(
        "worker warmed up (%s, %.0f ms)", response.status, 1000 * (time.perf_counter() - started)
    )
