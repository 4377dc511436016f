"""The API Usage Dashboard: a multi-page Dash app over a day-partitioned Parquet lake.

``server`` is the Flask app for gunicorn (``gunicorn app:server``); ``flask --app app ...``
runs the lake's commands (ingest, prune, compact, demo).
"""

from __future__ import annotations

import logging
from pathlib import Path

import dash
from dash import Dash, dcc, html
from flask import Response, request

from components.navbar import create_navbar
from config import get_settings
from server import background, security
from server.commands import COMMANDS
from server.ingest_api import blueprint as ingest_blueprint

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
settings = get_settings()

app = Dash(
    __name__,
    use_pages=True,
    title="API Usage Dashboard",
    update_title=None,
    suppress_callback_exceptions=True,
    health_endpoint="health",
    compress=True,  # flask-compress: zstd, br or gzip, as the browser accepts (4.2 MB -> 1.1 MB)
    assets_ignore=r"plotly-basic\.min\.js$",  # not on every page: see _plotly_bundle below
)
server = app.server
# Callbacks send small JSON: 4 MiB is plenty. Ingest has its own APIDASH_INGEST_MAX_BYTES.
server.config["MAX_CONTENT_LENGTH"] = 4 * 2**20
# Under a portal sub-path (DASH_URL_BASE_PATHNAME=/usage/) ingest lives there too.
server.register_blueprint(
    ingest_blueprint, url_prefix=app.config.routes_pathname_prefix.rstrip("/") or None
)
security.install(app, settings)
for command in COMMANDS:
    server.cli.add_command(command)


app.layout = html.Div(
    [
        dcc.Location(id="nav-location", refresh="callback-nav"),
        create_navbar(list(dash.page_registry.values())),
        html.Main(dash.page_container, className="container-fluid pb-4"),
    ]
)


@server.route(
    app.config.routes_pathname_prefix + "_dash-component-suites/plotly/package_data/plotly.min.js"
)
def _plotly_bundle() -> Response:
    """plotly.js's basic bundle (scatter, bar, pie: every chart here), where dcc.Graph fetches
    plotly.js the first time a page shows a chart (the URL is built into Dash's renderer).

    The full bundle is four times larger, and evaluating it took half of a cold Overview's
    time; pages without a chart (the table) load neither.
    """
    bundle = Path(app.config.assets_folder) / "plotly-basic.min.js"
    response = Response(bundle.read_bytes(), mimetype="text/javascript")
    response.add_etag()
    return response.make_conditional(request)


@server.after_request
def _cache_fingerprinted_assets(response: Response) -> Response:
    """Dash links every asset as ``?m=<mtime>``: a changed file gets a new URL, so browsers
    may keep what they have without asking again (Dash's own bundles are cached this way)."""
    if (request.endpoint or "").endswith("dash_assets.static") and "m" in request.args:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@server.before_request
def _start_background_work() -> None:
    """At the first request: seed an empty lake with demo data and start the upkeep thread."""
    background.start()


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8050, debug=False)
