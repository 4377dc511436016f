"""The API Usage Dashboard: a multi-page Dash app over a day-partitioned Parquet lake.

``server`` is the Flask app for gunicorn (``gunicorn app:server``); ``flask --app app ...``
runs the lake's commands (ingest, prune, compact, demo).
"""

from __future__ import annotations

import logging

import dash
from dash import Dash, dcc, html

from config import get_settings
from server import background
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
server.register_blueprint(ingest_blueprint)
for command in COMMANDS:
    server.cli.add_command(command)


def create_navbar(pages: list[dict]) -> html.Nav:
    """The top navigation, one link per registered page in their order."""
    links = [
        html.Li(
            dcc.Link(page["name"], href=page["relative_path"], className="nav-link"),
            className="nav-item",
        )
        for page in pages
    ]
    return html.Nav(
        html.Div(
            [
                dcc.Link(
                    "API Usage Dashboard",
                    href=dash.get_relative_path("/"),
                    className="navbar-brand",
                ),
                html.Ul(links, className="navbar-nav flex-row flex-wrap gap-3"),
            ],
            className="container-fluid",
        ),
        className="navbar navbar-expand bg-body-tertiary border-bottom mb-3",
    )


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
