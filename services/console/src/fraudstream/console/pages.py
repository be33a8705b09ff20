"""The console's pages and its one JSON endpoint; each is a thin call into the Console core."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from fraudstream.console import present
from fraudstream.console.console import Console
from fraudstream.console.errors import SignInRefused, Unavailable
from fraudstream.console.sessions import Session

pages = Blueprint("pages", __name__)

SESSION_COOKIE = "console_session"
SIGNIN_COOKIE = "console_signin"


def _console() -> Console:
    return current_app.extensions["console"]  # type: ignore[no-any-return]


def _me() -> Session:
    session: Session = g.session
    return session


def _secure() -> bool:
    return bool(current_app.extensions["console_settings"].cookie_secure)


def _signin_page(message: str = "", status: int = 200) -> Response:
    # Keep a nonce the browser already has: a second tab (or the browser's own favicon
    # fetch) must not invalidate the form on screen.
    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    response = make_response(render_template("signin.html", nonce=nonce, message=message), status)
    response.set_cookie(
        SIGNIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="Strict", secure=_secure()
    )
    return response


def _signin_nonce_ok(given: str | None) -> bool:
    """Double-submit check of the sign-in form (there is no session yet to hold a token)."""
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    return bool(cookie and given) and hmac.compare_digest(cookie.encode(), (given or "").encode())


@pages.get("/healthz")
def health() -> tuple[str, int]:
    return "ok\n", 200


@pages.get("/favicon.ico")
def favicon() -> tuple[str, int]:
    return "", 204


@pages.get("/")
def home() -> Any:
    return redirect(url_for("pages.queue"))


@pages.route("/signin", methods=["GET", "POST"])
def sign_in() -> Any:
    if request.method == "GET":
        if g.session is not None:
            return redirect(url_for("pages.queue"))
        return _signin_page()
    if not _signin_nonce_ok(request.form.get("nonce")):
        return _signin_page("The sign-in form expired; please try again.", 403)
    try:
        session = _console().sign_in(request.form.get("token", ""))
    except SignInRefused:
        return _signin_page("That token was not accepted.", 401)
    except Unavailable as exc:
        return _signin_page(f"Cannot check the token now: {exc}", 503)
    if g.session is not None:  # signing in again replaces the old session
        _console().sign_out(g.session)
    response = redirect(url_for("pages.queue"))
    response.set_cookie(
        SESSION_COOKIE, session.id, httponly=True, samesite="Strict", secure=_secure(), path="/"
    )
    response.delete_cookie(SIGNIN_COOKIE)
    return response


@pages.post("/signout")
def sign_out() -> Any:
    _console().sign_out(_me())
    response = redirect(url_for("pages.sign_in"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@pages.get("/queue")
def queue() -> Any:
    console, me = _console(), _me()
    cases = console.queue(me)
    held = console.held_case(me)
    return render_template(
        "queue.html",
        counts=console.counts(me),
        open_cases=[present.case_row(c) for c in cases["open"]],
        leased_cases=[present.case_row(c) for c in cases["leased"]],
        labeled_cases=[present.case_row(c) for c in cases["labeled"]],
        held=present.case_row(held) if held is not None else None,
        notices=me.pop_notices(),
    )


@pages.post("/queue/take")
def take() -> Any:
    case = _console().take_case(_me())
    if case is None:
        _me().notify("info", "No open case to take right now.")
        return redirect(url_for("pages.queue"))
    return redirect(url_for("pages.case", event_id=case.event_id))


@pages.post("/queue/stop")
def stop() -> Any:
    _console().stop_reviewing(_me())
    _me().notify("info", "Your cases went back to the queue.")
    return redirect(url_for("pages.queue"))


@pages.get("/cases/<event_id>")
def case(event_id: str) -> Any:
    found, mine = _console().case(_me(), event_id)
    return render_template(
        "case.html",
        case=present.case_detail(found),
        mine=mine,
        notices=_me().pop_notices(),
    )


@pages.post("/cases/<event_id>/verdict")
def verdict(event_id: str) -> Any:
    me = _me()
    chosen = request.form.get("verdict", "")
    position = _console().label(me, event_id, chosen, request.form.get("note", ""))
    me.notify("ok", f"Case {event_id} labeled {chosen}: label #{position} in the log.")
    return redirect(url_for("pages.queue"))


@pages.post("/cases/<event_id>/skip")
def skip(event_id: str) -> Any:
    _console().skip(_me(), event_id)
    _me().notify("info", f"Case {event_id} went back to the queue.")
    return redirect(url_for("pages.queue"))


@pages.get("/model")
def model() -> Any:
    console = _console()
    status = present.learner_status(console.model(_me()))
    return render_template(
        "model.html",
        status=status,
        rollback=console.backend.rollback_supported,
        notices=_me().pop_notices(),
    )


@pages.post("/model/rollback")
def rollback() -> Any:
    raw = request.form.get("to_version", "").strip()
    to_version = int(raw) if raw.isdigit() else None
    answer = _console().roll_back(_me(), to_version)
    _me().notify("ok", f"Rollback asked: {answer}")
    return redirect(url_for("pages.model"))


@pages.get("/api/live")
def live() -> Any:
    counts = _console().counts(_me())
    return jsonify(
        open=counts.open,
        leased=counts.leased,
        labeled=counts.labeled,
        alerts=counts.total,
        at=time.strftime("%H:%M:%S", time.gmtime()),
    )
