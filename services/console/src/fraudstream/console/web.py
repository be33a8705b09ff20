"""The Flask application: who is signed in, CSRF on every POST, security headers, error pages."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from fraudstream.console.console import Console
from fraudstream.console.errors import (
    CaseNotFound,
    ConsoleError,
    Forbidden,
    NotHeld,
    ServiceRefused,
    SignInRefused,
    Unavailable,
)
from fraudstream.console.pages import SESSION_COOKIE, pages
from fraudstream.console.settings import ConsoleSettings

logger = logging.getLogger(__name__)

# Endpoints a signed-out browser may reach: they show no data.
PUBLIC_ENDPOINTS = frozenset({"pages.sign_in", "pages.health", "pages.favicon", "static"})
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STATUS: dict[type[ConsoleError], int] = {
    Forbidden: 403,
    CaseNotFound: 404,
    NotHeld: 409,
    ServiceRefused: 502,
    Unavailable: 503,
    SignInRefused: 401,
}


def create_app(console: Console, settings: ConsoleSettings) -> Flask:
    """The console's WSGI application over `console` (no server; server.py serves it)."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, TEMPLATES_AUTO_RELOAD=False)
    app.extensions["console"] = console
    app.extensions["console_settings"] = settings
    app.register_blueprint(pages)

    @app.before_request
    def _identify() -> Any:
        g.started = time.perf_counter()
        g.session = console.sessions.get(request.cookies.get(SESSION_COOKIE))
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if g.session is None:
            if request.path.startswith("/api/"):
                return jsonify(error="sign in first"), 401
            return redirect(url_for("pages.sign_in"))
        if request.method == "POST":
            given = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
            if not g.session.csrf_ok(given):
                return _page("error.html", 403, message="This form has expired; try again.")
        return None

    @app.context_processor
    def _context() -> dict[str, Any]:
        session = g.get("session")
        return {
            "me": session,
            "csrf": session.csrf if session else "",
            "poll_seconds": settings.poll_seconds,
        }

    @app.after_request
    def _finish(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = _CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        if request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        console.metrics.requests.labels(route, str(response.status_code)).inc()
        if "started" in g:
            elapsed = time.perf_counter() - g.started
            console.metrics.request_seconds.labels(route).observe(elapsed)
        return response

    @app.errorhandler(ConsoleError)
    def _console_error(exc: ConsoleError) -> Any:
        status = _STATUS.get(type(exc), 500)
        if isinstance(exc, SignInRefused) and g.get("session") is not None:
            console.sign_out(g.session)  # the token was revoked while signed in
            g.session = None
        if request.path.startswith("/api/"):
            return jsonify(error=str(exc)), status
        return _page("error.html", status, message=str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description), exc.code
        return _page("error.html", exc.code or 500, message=exc.description)

    return app


def _page(template: str, status: int, **values: Any) -> tuple[str, int]:
    return render_template(template, **values), status
