"""Domain errors: what went wrong in fraud-domain terms, mapped to gRPC status in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of errors the services raise on purpose; the message is shown to the caller."""


class InvalidArgument(DomainError):
    """The request itself is wrong (bad field, oversize batch); retrying it will not help."""


class NotFound(DomainError):
    """The request names something that does not exist (an unknown case, say)."""


class AlreadyExists(DomainError):
    """The thing the request would create exists already."""


class FailedPrecondition(DomainError):
    """The service is not in a state to do this yet (no model loaded, say)."""


class Unauthenticated(DomainError):
    """The caller did not prove who it is (missing or unknown bearer token)."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class Unavailable(DomainError):
    """A dependency is down; retrying later may work."""
