"""The audit log: who did what, through which door. Written in the same transaction as the act."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlmodel import Session

from db.models import AuditLog


class Row(Protocol):
    id: int | None


R = TypeVar("R", bound=Row)


def record(
    session: Session, actor: str, action: str, target: str | None = None, **details: Any
) -> None:
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            target=target,
            details=json.dumps(details, default=str, ensure_ascii=False) if details else None,
        )
    )


def remove_recorded(
    session: Session, row: R, subject: str, *, actor: str, keep: Sequence[str]
) -> R:
    """Delete ``row`` and log ``<subject>.remove``; the audit line keeps the ``keep`` fields,
    since the row itself is gone. Find it with ``db.errors.get_or_missing``."""
    target = f"{subject}:{row.id}"
    session.delete(row)
    session.flush()
    record(
        session, actor, f"{subject}.remove", target, **{name: getattr(row, name) for name in keep}
    )
    return row
