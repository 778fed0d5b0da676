"""The audit log: who did what, through which door. Written in the same transaction as the act."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from db.models import AuditLog


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
