"""SessionStore and RoleBook: expiry, sign-out, CSRF tokens, roles from the tokens file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.common.auth import token_digest
from fraudstream.console.roles import RoleBook
from fraudstream.console.sessions import Session, SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    clock, ended = Clock(), list[Session]()
    store = SessionStore(idle=60, lifetime=300, on_end=ended.append, clock=clock)
    idle = store.start("alice", frozenset({"labeler"}), "t1")
    busy = store.start("bob", frozenset({"labeler"}), "t2")
    for _ in range(5):  # bob keeps working, alice does not
        clock.now += 50
        assert store.get(busy.id) is busy
    assert store.get(idle.id) is None
    assert [s.analyst for s in ended] == ["alice"]
    clock.now += 60  # 310 s after sign-in: over the lifetime although just used
    assert store.get(busy.id) is None
    assert [s.analyst for s in ended] == ["alice", "bob"]
    assert len(store) == 0


def test_sign_out_ends_the_session_once_and_ids_are_fresh() -> None:
    ended: list[Session] = []
    store = SessionStore(idle=60, lifetime=300, on_end=ended.append)
    first = store.start("alice", frozenset({"labeler"}), "secret-token-of-alice")
    second = store.start("alice", frozenset({"labeler"}), "secret-token-of-alice")
    assert first.id != second.id and first.csrf != second.csrf
    assert len(first.id) >= 40 and first.token not in first.id
    store.end(first.id)
    store.end(first.id)
    assert store.get(first.id) is None and store.get(second.id) is second
    assert ended == [first]
    assert "secret-token-of-alice" not in repr(first) and first.csrf not in repr(first)


def test_csrf_check() -> None:
    session = SessionStore(idle=60, lifetime=300).start("a", frozenset(), "t")
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok(None)
    assert not session.csrf_ok("")
    assert not session.csrf_ok(session.csrf[:-1])


def test_roles_come_from_the_tokens_file_with_implied_roles(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(
        f"victor viewer {token_digest('tv')}\n"
        f"alice labeler {token_digest('ta')}\n"
        f"ada admin {token_digest('td')}\n"
    )
    book = RoleBook(path, ["carol:tc"])
    assert book.roles("tv") == ("victor", frozenset({"viewer"}))
    assert book.roles("ta") == ("alice", frozenset({"labeler", "viewer"}))
    assert book.roles("td") == ("ada", frozenset({"admin", "labeler", "viewer"}))
    assert book.roles("tc") == ("carol", frozenset({"labeler", "viewer"}))
    assert book.roles("nope") is None
    victor = SessionStore(60, 300).start("victor", book.roles("tv")[1], "tv")  # type: ignore[index]
    assert victor.may_view and not victor.may_label and not victor.may_roll_back


def test_roles_follow_the_tokens_file_and_survive_a_broken_edit(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"victor viewer {token_digest('tv')}\n")
    book = RoleBook(path)
    assert book.roles("ta") is None
    path.write_text(f"victor viewer {token_digest('tv')}\nalice labeler {token_digest('ta')}\n")
    assert book.roles("ta") == ("alice", frozenset({"labeler", "viewer"}))
    path.write_text("this line does not parse\n")
    assert book.roles("ta") is not None  # the last good table stays


def test_a_missing_tokens_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tokens file"):
        RoleBook(tmp_path / "absent")
