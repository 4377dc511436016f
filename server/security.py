"""Who may see the dashboard, and the headers that keep it safe inside the portal's iframe.

- Viewers: with ``APIDASH_VIEWER_HEADER`` set, every page and callback needs that header (set
  by the trusted reverse proxy in front of the app, e.g. ``X-Forwarded-Email``) with a value
  in ``APIDASH_VIEWER_ALLOW`` (exact names or ``@domain``); with ``APIDASH_BASIC_AUTH`` set,
  HTTP basic auth with one of its user:password pairs. Either refusal says why, in JSON.
  ``/health`` and ``/ingest/events`` (which has its own tokens) stay outside.
- Headers: ``Content-Security-Policy`` with ``frame-ancestors`` from
  ``APIDASH_FRAME_ANCESTORS`` and the hashes of Dash's inline scripts, ``nosniff``,
  ``Referrer-Policy``; no ``X-Frame-Options`` (it cannot allow a list of portals).
"""

from __future__ import annotations

import base64
import binascii
import hmac

from dash import Dash
from flask import Response, jsonify, request

from config import Settings

OPEN_ENDPOINTS = ("health", "ingest/events")


def _is_open(path: str, prefix: str) -> bool:
    local = path[len(prefix) :] if path.startswith(prefix) else path.lstrip("/")
    return local in OPEN_ENDPOINTS


def viewer_allowed(value: str | None, allow: tuple[str, ...]) -> bool:
    """Whether the proxy's viewer ``value`` is on the allow-list (``@domain`` matches a domain)."""
    if not value:
        return False
    value = value.strip().lower()
    if not allow:
        return True  # a header was asked for and given; no list narrows it
    return any(value == item or (item.startswith("@") and value.endswith(item)) for item in allow)


def basic_auth_ok(header: str | None, pairs: tuple[tuple[str, str], ...]) -> bool:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    results = [
        hmac.compare_digest(user.encode(), u.encode())
        & hmac.compare_digest(password.encode(), p.encode())
        for u, p in pairs
    ]
    return any(results)


def content_security_policy(app: Dash, frame_ancestors: str) -> str:
    """The CSP for every response. AG Grid's column functions need ``'unsafe-eval'``."""
    scripts = " ".join(["'self'", "'unsafe-eval'", *app.csp_hashes()])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def install(app: Dash, settings: Settings) -> None:
    """Add the access checks and security headers to ``app``'s server."""
    server = app.server
    prefix = app.config.routes_pathname_prefix
    policy: list[str] = []  # computed at the first response, once every callback exists
    server.config.update(
        SESSION_COOKIE_SAMESITE="None",  # cookies that work inside the portal's iframe
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
    )

    @server.before_request
    def _check_viewer() -> Response | None:
        if _is_open(request.path, prefix):
            return None
        if settings.viewer_header and not viewer_allowed(
            request.headers.get(settings.viewer_header), settings.viewer_allow
        ):
            response = jsonify({"error": "you are not on this dashboard's list of viewers"})
            response.status_code = 403
            return response
        if settings.basic_auth and not basic_auth_ok(
            request.headers.get("Authorization"), settings.basic_auth
        ):
            response = jsonify({"error": "sign in to see this dashboard"})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Basic realm="API Usage Dashboard"'
            return response
        return None

    @server.after_request
    def _headers(response: Response) -> Response:
        if not policy:
            policy.append(content_security_policy(app, settings.frame_ancestors))
        response.headers["Content-Security-Policy"] = policy[0]
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers.pop("X-Frame-Options", None)
        return response
