"""Bearer tokens: who may label, and under which analyst name."""

from __future__ import annotations

import pytest

from fraudstream.common.errors import Unauthenticated
from fraudstream.feedback.auth import AnalystAuth, analyst_for_bare_token


def test_a_named_token_identifies_its_analyst():
    auth = AnalystAuth(["alice:s3cret", "bob:other:with:colons"])
    assert auth.identify("Bearer s3cret") == "alice"
    assert auth.identify("bearer   other:with:colons ") == "bob"


def test_a_bare_token_gets_a_stable_pseudonym_that_does_not_reveal_it():
    auth = AnalystAuth(["plain-token"])
    name = auth.identify("Bearer plain-token")
    assert name == analyst_for_bare_token("plain-token")
    assert name.startswith("analyst-") and "plain" not in name


@pytest.mark.parametrize(
    "header",
    [None, "", "s3cret", "Basic s3cret", "Bearer", "Bearer ", "Bearer wrong", "Bearer s3cre"],
)
def test_anything_else_is_unauthenticated(header):
    with pytest.raises(Unauthenticated):
        AnalystAuth(["alice:s3cret"]).identify(header)


def test_no_tokens_configured_means_nobody_labels():
    with pytest.raises(Unauthenticated):
        AnalystAuth([]).identify("Bearer anything")


@pytest.mark.parametrize("entries", [["alice:"], [":Zq9x"], ["alice:Zq9x", "bob:Zq9x"]])
def test_malformed_entries_are_refused_without_echoing_the_secret(entries):
    with pytest.raises(ValueError) as refused:
        AnalystAuth(entries)
    assert "Zq9x" not in str(refused.value)
