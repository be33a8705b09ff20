"""What can go wrong behind a console page, in the console's words (mapped to HTTP in web.py)."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of the console's errors; the message is shown to the analyst."""


class SignInRefused(ConsoleError):
    """The token is unknown, or a service refused it."""


class Forbidden(ConsoleError):
    """The analyst's role does not allow this (or a service said so)."""


class Unavailable(ConsoleError):
    """The feedback service or the learner cannot be reached or did not answer in time."""


class NotHeld(ConsoleError):
    """The case is not leased to this session (never taken, answered, or its lease ran out)."""


class CaseNotFound(ConsoleError):
    """No case has this event id."""


class ServiceRefused(ConsoleError):
    """A service refused a request for another reason (its message says why)."""
