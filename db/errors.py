"""One small error tree for domain code.

Each error carries the HTTP status it means, so the API maps it with one handler, the CLI prints
its message on one line, and the bot answers it in Indonesian. Messages are Indonesian because
they reach operators and admins as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlmodel import Session, SQLModel

M = TypeVar("M", bound="SQLModel")


class GaungError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(GaungError):
    status_code = 422


class NotFound(GaungError):
    status_code = 404


class Conflict(GaungError):
    status_code = 409


class Forbidden(GaungError):
    status_code = 403


def get_or_missing(
    session: Session, model: type[M], row_id: int, what: str, *, lock: bool = False
) -> M:
    """The ``model`` row with this id, or NotFound "<what> #<id> tidak ada": every lookup by
    id fails with the same words. ``lock``: ``SELECT … FOR UPDATE``, for a change that must
    not race another (a no-op on SQLite, whose writers already take turns)."""
    row = session.get(model, row_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"{what} #{row_id} tidak ada")
    return row
