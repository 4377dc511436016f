"""The API Usage Dashboard: a multi-page Dash app over a day-partitioned Parquet lake.

``server`` is the Flask app for gunicorn (``gunicorn app:server``); ``flask --app app ...``
runs the lake's commands (ingest, prune, compact, demo).
"""

from __future__ import annotations

import logging

import dash
from dash import Dash, dcc, html

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


@server.before_request
def _start_background_work() -> None:
    """At the first request: seed an empty lake with demo data and start the upkeep thread."""
    background.start()


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8050, debug=False)
