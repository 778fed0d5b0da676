"""API keys: last use recorded to the minute, without a write on every request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from db.accounts.apikeys import (
    LAST_USED_GRANULARITY,
    LastUseThrottle,
    authenticate,
    create_api_key,
    identify,
    record_use,
    revoke_api_key,
)
from db.models import ApiKey
from tests.db.racing import race

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _key(session: Session) -> tuple[int, str]:
    key, plain = create_api_key(session, role="diskominfo", name="uji")
    session.commit()
    assert key.id is not None
    return key.id, plain


def _last_used(engine: Engine, key_id: int) -> datetime | None:
    with Session(engine) as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        return key.last_used_at


def test_identify_only_reads(session: Session, engine: Engine) -> None:
    key_id, plain = _key(session)
    found = identify(session, plain)
    assert found is not None
    principal, last_used = found
    assert (principal.key_id, principal.role, principal.opd_id) == (key_id, "diskominfo", None)
    assert last_used is None and not session.dirty and not session.new
    assert identify(session, plain + "x") is None
    revoke_api_key(session, key_id)
    assert identify(session, plain) is None


def test_record_use_writes_at_most_once_a_minute(session: Session, engine: Engine) -> None:
    key_id, _ = _key(session)
    assert record_use(session, key_id, T0)
    assert not record_use(session, key_id, T0 + timedelta(seconds=30))
    assert not record_use(session, key_id, T0 + LAST_USED_GRANULARITY - timedelta(seconds=1))
    session.commit()
    assert _last_used(engine, key_id) == T0
    assert record_use(session, key_id, T0 + LAST_USED_GRANULARITY)
    session.commit()
    assert _last_used(engine, key_id) == T0 + LAST_USED_GRANULARITY


def test_authenticate_records_use(session: Session, engine: Engine) -> None:
    key_id, plain = _key(session)
    principal = authenticate(session, plain)
    assert principal is not None and principal.key_id == key_id
    session.commit()
    first = _last_used(engine, key_id)
    assert first is not None
    assert authenticate(session, plain) is not None  # within the minute: no new write
    session.commit()
    assert _last_used(engine, key_id) == first


def test_throttle_lets_one_claim_a_minute_per_key_through() -> None:
    throttle = LastUseThrottle()
    assert not throttle.claim(1, T0, T0 + timedelta(seconds=59))  # fresh in the database
    assert throttle.claim(1, None, T0)
    assert not throttle.claim(1, None, T0 + timedelta(seconds=59))  # claimed in-process
    assert throttle.claim(2, None, T0)  # per key
    assert throttle.claim(1, None, T0 + LAST_USED_GRANULARITY)

    claims = race(16, lambda _: throttle.claim(3, None, T0))
    assert claims.count(True) == 1
