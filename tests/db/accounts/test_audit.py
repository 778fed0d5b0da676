"""Removals are on record: the audit line keeps what the deleted row was."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from db.accounts.audit import remove_recorded
from db.errors import NotFound, get_or_missing
from db.models import AuditLog, OfficialAccount
from db.posts.official import add_account


def test_remove_recorded_deletes_and_keeps_the_named_fields(session: Session) -> None:
    account = add_account(session, platform="instagram", handle="@dinkesmjk", opd_kode=None)
    account_id = account.id
    assert account_id is not None

    def remove() -> OfficialAccount:
        found = get_or_missing(session, OfficialAccount, account_id, "akun resmi")
        return remove_recorded(session, found, "official_account", actor="uji", keep=("handle",))

    removed = remove()
    assert removed.handle == "dinkesmjk"
    assert session.get(OfficialAccount, account_id) is None
    line = session.exec(select(AuditLog).where(AuditLog.action == "official_account.remove")).one()
    assert (line.actor, line.target) == ("uji", f"official_account:{account_id}")
    assert json.loads(line.details or "") == {"handle": "dinkesmjk"}
    with pytest.raises(NotFound, match=rf"^akun resmi #{account_id} tidak ada$"):
        remove()
