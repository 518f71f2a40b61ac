"""The project's error tree: one root, and subclasses the shells map to exit codes and HTTP."""

from __future__ import annotations

from collections.abc import Sequence


class CmdbError(Exception):
    """Root of every error the CMDB raises on purpose.

    ``where`` names the field, file or line at fault so a user can fix their input
    without reading a stack trace.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InvalidInput(CmdbError):
    """The caller's input is malformed or breaks a rule of the model."""


class ForbiddenRelationship(InvalidInput):
    """A relationship type does not allow the (source class, target class) pair."""


class Forbidden(CmdbError):
    """The caller may not do this: a token's role or service scope, or a change authority
    below the one a change needs."""


class NotFound(CmdbError):
    """A CI, relationship or record does not exist (or did not at the asked instant)."""


class AmbiguousReference(CmdbError):
    """A reference (identifier or name) matches more than one CI."""

    def __init__(self, message: str, candidates: Sequence[str], *, where: str | None = None):
        super().__init__(message, where=where)
        self.candidates = list(candidates)

    def __str__(self) -> str:
        listed = ", ".join(self.candidates)
        if listed in self.message:  # the message names them already (cmdb.store.refs)
            return super().__str__()
        return f"{super().__str__()} (candidates: {listed})"


class IdentityConflict(CmdbError):
    """Identifiers given for one CI already belong to different CIs."""


class WriteConflict(CmdbError):
    """A guarded write found its guard moved: another process wrote first (read again)."""


class SchemaNotReady(CmdbError):
    """The store lacks its constraints or migrations: it refuses writes until migrated."""


class StoreUnavailable(CmdbError):
    """The store cannot be reached, or a write's outcome is unknown."""


class HistoryIsAppendOnly(CmdbError):
    """Something tried to change or delete history."""
