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
