"""Who a bearer token belongs to and what they may do, read from the same tokens the services use.

The feedback service and the learner decide for themselves on every call; the console asks
here only to shape its pages and to refuse early. Both read `FRAUDSTREAM_ANALYST_TOKENS_FILE`
(and the clear `FRAUDSTREAM_ANALYST_TOKENS`, whose owners may label), so they agree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from fraudstream.common.auth import LABELER, TokenTable

logger = logging.getLogger(__name__)


class RoleBook:
    """Looks tokens up in the tokens file (re-read when it changes) and the clear entries."""

    def __init__(self, tokens_file: Path | None, clear_entries: Sequence[str] = ()) -> None:
        self._file = tokens_file
        # Clear entries label, exactly as the feedback service's analyst_tokens setting.
        self._clear = TokenTable.from_plain(clear_entries, [LABELER])
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._table = self._clear
        self._reload()
        if not len(self._table):
            logger.warning("no analyst tokens: nobody can sign in to the console")

    def _reload(self) -> None:
        if self._file is None:
            return
        try:
            stat = self._file.stat()
        except OSError as exc:
            raise ValueError(f"cannot read the tokens file {self._file}: {exc.strerror}") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        # A file that stops parsing keeps the last good table: sign-ins go on, and it is logged.
        try:
            self._table = TokenTable.from_file(self._file).merged(self._clear)
        except ValueError as exc:
            if self._stamp is None:
                raise
            logger.error("tokens file not reloaded: %s", exc)
        self._stamp = stamp

    def roles(self, token: str) -> tuple[str, frozenset[str]] | None:
        """The owner's name and roles (implied roles included), or None for an unknown token."""
        with self._lock:
            try:
                self._reload()
            except ValueError as exc:
                logger.error("%s", exc)
        principal = self._table.lookup(token)
        if principal is None:
            return None
        return principal.name, principal.roles
