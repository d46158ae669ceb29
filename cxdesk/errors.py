"""Errors a user can cause or meet. Each message is one sentence that says what to do."""
from __future__ import annotations


class UserError(Exception):
    """An error shown to the user as it is: bad input, a conflict, a server that is down."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class ValidationError(UserError):
    """A value the user typed is not acceptable; ``field`` names the input."""


class NotFound(UserError):
    """The thing asked for does not exist (any more)."""


class ConflictError(UserError):
    """Someone else changed the record meanwhile, or a unique value is taken."""


class PermissionDenied(UserError):
    """The signed-in operator's role does not allow this."""


class DatabaseUnavailable(UserError):
    """The database cannot be opened or the server cannot be reached."""


class Cancelled(Exception):
    """The user cancelled a long operation."""
