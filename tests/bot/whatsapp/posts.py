"""A post submitted for ASN reachable on WhatsApp only, for broadcast tests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, update

from db.engine import session_scope
from db.models import ChatIdentity, table
from db.posts.lifecycle import submit_post
from tests.factories import add_asn, register


def template_post(engine: Engine, wa_ids: Sequence[str], url: str) -> int:
    """One ASN per ``wa_id``, registered long ago (no 24-hour window open: every post goes as
    a template), and a submitted post of theirs; its id, for the test to approve."""
    with session_scope(engine) as session:
        for wa_id in wa_ids:
            register(session, add_asn(session, opd="DINKES"), channel="whatsapp", external_id=wa_id)
        session.connection().execute(update(table(ChatIdentity)).values(last_inbound_at=None))
        post = submit_post(session, opd_kode="DINKES", url=url)
        assert post.id is not None
        return post.id
