"""Errors the user can act on.

Each carries a plain-language message meant to be shown as is (dialog or one CLI line).
Anything that is not a UserError is a bug: it is logged with a traceback (no PHI) and shown
as a generic error.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input or circumstances the user can fix; the message says how."""

    title = "Cannot continue"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(UserError):
    """Bad input. `fields` maps a field name to its message for field-level display."""

    title = "Please check the form"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class AuthenticationError(UserError):
    title = "Sign-in failed"


class AccountLockedError(AuthenticationError):
    title = "Account locked"


class PermissionDenied(UserError):
    title = "Not permitted"


class StaleRecordError(UserError):
    """Optimistic concurrency: somebody else saved the record after it was loaded."""

    title = "Changed on another workstation"

    def __init__(self, what: str = "This record") -> None:
        super().__init__(
            f"{what} was changed on another workstation after you opened it. "
            "Your changes were not saved. The record will be reloaded so you can see the "
            "latest version and make your changes again."
        )


class NotFoundError(UserError):
    title = "Not found"


class DatabaseError(UserError):
    title = "Database problem"


class NetworkShareError(DatabaseError):
    pass


class SchemaTooNewError(DatabaseError):
    pass


class CorruptDatabaseError(DatabaseError):
    pass


class WrongKeyError(DatabaseError):
    title = "Wrong passphrase"


class DiskFullError(DatabaseError):
    title = "Disk full"
