"""The audit log: who did what, through which door. Written in the same transaction as the act."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel

from db.errors import NotFound
from db.models import AuditLog

M = TypeVar("M", bound=SQLModel)


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
    session: Session,
    model: type[M],
    row_id: int,
    *,
    subject: str,
    missing: str,
    actor: str,
    keep: Sequence[str],
) -> M:
    """Delete one row by id (``missing`` as NotFound when there is none) and log
    ``<subject>.remove``; the audit line keeps the ``keep`` fields, since the row itself is gone."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    session.delete(row)
    session.flush()
    record(
        session,
        actor,
        f"{subject}.remove",
        f"{subject}:{row_id}",
        **{name: getattr(row, name) for name in keep},
    )
    return row
