"""Real servers for tests, on loopback only: gunicorn running the app, a static 'portal'."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout} s")
        time.sleep(0.2)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, health: str = "/health") -> Iterator[str]:
    """Run ``gunicorn app:server`` with ``env`` on a free 127.0.0.1 port; yields its base URL."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "app:server",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
        "--access-logfile",
        "/dev/null",
    ]
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "APIDASH_DEMO": "off", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for(base + health)
        except TimeoutError:
            process.terminate()
            process.wait(timeout=10)
            log.seek(0)
            raise RuntimeError(f"gunicorn did not start:\n{log.read()[-4000:]}") from None
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def static_site(folder: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``folder`` over HTTP on ``host`` (a loopback address); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
