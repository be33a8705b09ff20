"""Analysts' clear tokens (FRAUDSTREAM_ANALYST_TOKENS): who may label, under which name."""

from __future__ import annotations

import pytest

from fraudstream.common.auth import LABELER, VIEWER, TokenTable


def _labelers(entries: list[str]) -> TokenTable:
    return TokenTable.from_plain(entries, [LABELER])


def test_a_named_token_identifies_its_analyst_as_a_labeler():
    table = _labelers(["alice:s3cret", "bob:other:with:colons"])
    alice = table.lookup("s3cret")
    assert alice is not None and alice.name == "alice"
    assert alice.may({LABELER}) and alice.may({VIEWER})  # a labeler may read
    bob = table.lookup("other:with:colons")
    assert bob is not None and bob.name == "bob"


def test_a_bare_token_gets_a_stable_pseudonym_that_does_not_reveal_it():
    found = _labelers(["plain-token"]).lookup("plain-token")
    assert found is not None
    assert found.name.startswith("analyst-") and "plain" not in found.name
    assert found.name == _labelers(["plain-token"]).lookup("plain-token").name  # type: ignore[union-attr]


@pytest.mark.parametrize("token", ["", "s3cre", "s3cret ", "wrong"])
def test_anything_else_is_unknown(token):
    assert _labelers(["alice:s3cret"]).lookup(token) is None


def test_no_tokens_configured_means_nobody_labels():
    assert _labelers([]).lookup("anything") is None


@pytest.mark.parametrize("entries", [["alice:"], [":Zq9x"], ["alice:Zq9x", "bob:Zq9x"]])
def test_malformed_entries_are_refused_without_echoing_the_secret(entries):
    with pytest.raises(ValueError) as refused:
        _labelers(entries)
    assert "Zq9x" not in str(refused.value)
