"""The refusals every service's domain raises: plain Python, no I/O, no HTTP.

A rule that refuses what was asked raises one of these; nothing was changed. ``errors`` maps
each input at fault to its messages. shared/errors.py turns them into problem+json once for
every service (the status follows the kind: 422, 403, 404, 409).
"""

from __future__ import annotations


class DomainError(Exception):
    """What was asked breaks a rule (422). ``field`` is shorthand for one input at fault."""

    def __init__(self, message: str, errors: dict | None = None, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors if errors is not None else ({field: [message]} if field else None)

    @property
    def field(self) -> str | None:
        """The one input at fault, when exactly one is."""
        return next(iter(self.errors)) if self.errors and len(self.errors) == 1 else None


class NotPermitted(DomainError):
    """The caller's role or scope does not allow this (403; the answer names no field)."""


class WrongState(DomainError):
    """The thing is not in a state that allows this now (409)."""


class Unknown(DomainError):
    """No such thing, or one the caller may not know exists (404; rule U)."""
