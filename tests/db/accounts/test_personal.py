"""``/hapus`` and ``gaung asn erase``/``export``: where the line between roster and chat runs."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, col, select

from db.accounts.consent import CONSENT_VERSION
from db.accounts.identities import opt_out
from db.accounts.personal import erase_asn, export_asn
from db.accounts.registration import Result, erase_account, register_by_contact
from db.delivery.confirmations import confirm
from db.delivery.counters import fact_counts, rebuild
from db.delivery.outbox import mark_sent
from db.models import (
    Asn,
    AuditLog,
    ChatIdentity,
    Consent,
    Delivery,
    DeliveryStatus,
    table,
)
from db.posts.lifecycle import approve_post, submit_post
from db.reporting.followup import opd_asn
from db.reporting.participation import participation
from db.reporting.window import Window
from tests.factories import add_asn, delivery_of, register

WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
PHONE = "+6281234500001"
TG = "777001"


def _world(session: Session) -> tuple[Asn, Asn, int, int]:
    """Sari (registered by contact; one post sent and liked, one still queued) and Tono."""
    sari = add_asn(session, opd="DINKES", nama="Sari", phone=PHONE)
    tono = add_asn(session, opd="DINKES", nama="Tono")
    outcome = register_by_contact(
        session, channel="telegram", external_id=TG, chat_id=TG, phone=PHONE, contact_user_id=TG
    )
    assert outcome.result is Result.REGISTERED
    register(session, tono)
    sent = submit_post(session, opd_kode="DINKES", url="https://www.instagram.com/p/sent/")
    queued = submit_post(session, opd_kode="DINKES", url="https://www.instagram.com/p/later/")
    assert sent.id is not None and queued.id is not None
    approve_post(session, sent.id, now=datetime(2026, 11, 3, tzinfo=UTC))
    for who in (sari, tono):
        mark_sent(session, delivery_of(session, sent.id, who), f"m-{who.nama}")
    confirm(session, delivery_of(session, sent.id, sari), "like")
    confirm(session, delivery_of(session, sent.id, tono), "share")
    approve_post(session, queued.id, now=datetime(2026, 11, 4, tzinfo=UTC))
    session.commit()
    return sari, tono, sent.id, queued.id


def _figures(session: Session) -> tuple[object, ...]:
    report = participation(session, WINDOW)
    facts = sorted(tuple(r) for r in session.connection().execute(fact_counts(["opd_id"], WINDOW)))
    return report.total.delivered, report.total.liked, report.total.shared, facts


def test_hapus_keeps_the_roster_record_and_the_figures_and_forgets_the_chat(
    session: Session,
) -> None:
    sari, tono, sent_id, queued_id = _world(session)
    before = _figures(session)

    assert erase_account(session, "telegram", TG) is True
    session.commit()

    kept = session.get(Asn, sari.id)
    assert kept is not None
    # The employer's record stays, phone included, so registering by contact still works.
    assert (kept.nip, kept.nama, kept.phone, kept.active) == (sari.nip, "Sari", PHONE, True)
    assert kept.erased_at is not None and kept.consent_at is None
    assert session.exec(select(ChatIdentity).where(ChatIdentity.external_id == TG)).all() == []
    # No delivery points at her any more; the unsent one failed, the sent one still counts.
    assert session.exec(select(Delivery).where(Delivery.asn_id == sari.id)).all() == []
    anonymous = session.exec(select(Delivery).where(col(Delivery.asn_id).is_(None))).all()
    assert sorted((d.post_id, d.status, d.message_id, d.identity_id) for d in anonymous) == [
        (sent_id, DeliveryStatus.SENT, None, None),
        (queued_id, DeliveryStatus.FAILED, None, None),
    ]
    assert _figures(session) == before
    rebuild(session)
    assert _figures(session) == before
    # Tono is untouched.
    assert delivery_of(session, sent_id, tono).message_id == "m-Tono"
    # The withdrawal is recorded, not wiped.
    events = [
        (c.event, c.version)
        for c in session.exec(
            select(Consent).where(Consent.asn_id == sari.id).order_by(col(Consent.id))
        )
    ]
    assert events == [("given", CONSENT_VERSION), ("erased", None)]


def test_hapus_hashes_the_chat_id_in_the_audit_log(session: Session) -> None:
    sari, *_ = _world(session)
    before = session.exec(select(AuditLog).where(AuditLog.actor == f"telegram:{TG}")).all()
    assert [a.action for a in before] == ["asn.register"]
    erase_account(session, "telegram", TG)
    session.commit()
    rows = session.connection().execute(core_select(table(AuditLog))).all()
    assert not any(TG in f"{r.actor}{r.target}{r.details}" for r in rows)
    mine = [(r.actor, r.action) for r in rows if r.target == f"asn:{sari.id}"]
    assert [action for _, action in mine] == ["asn.register", "asn.erase"]
    # One pseudonym for both entries: still one account's doing, no longer whose.
    assert mine[0][0] == mine[1][0] and mine[0][0].startswith("telegram:#")


def test_an_erased_person_can_register_again_by_contact(session: Session) -> None:
    sari, *_ = _world(session)
    erase_account(session, "telegram", TG)
    again = register_by_contact(
        session, channel="telegram", external_id=TG, chat_id=TG, phone=PHONE, contact_user_id=TG
    )
    assert again.result is Result.REGISTERED
    session.refresh(sari)
    assert sari.erased_at is None and sari.consent_version == CONSENT_VERSION
    events = session.exec(
        select(Consent.event).where(Consent.asn_id == sari.id).order_by(col(Consent.id))
    ).all()
    assert events == ["given", "erased", "given"]


def test_an_erased_person_is_not_listed_for_follow_up(session: Session) -> None:
    sari, *_ = _world(session)
    assert sari.opd_id is not None
    listed = {
        r.nama
        for took_part in (True, False)
        for r in opd_asn(
            session, sari.opd_id, WINDOW, participated=took_part, limit=50, offset=0
        ).rows
    }
    assert listed == {"Sari", "Tono"}
    erase_asn(session, sari, actor="cli")
    for took_part in (True, False):
        page = opd_asn(session, sari.opd_id, WINDOW, participated=took_part, limit=50, offset=0)
        assert "Sari" not in {r.nama for r in page.rows}
    page = opd_asn(session, sari.opd_id, WINDOW, participated=True, limit=50, offset=0)
    assert [(r.nama, r.delivered, r.participated) for r in page.rows] == [("Tono", 1, 1)]


def test_export_gives_the_person_their_own_data_and_nothing_after_erasure(
    session: Session,
) -> None:
    sari, _, sent_id, _ = _world(session)
    opt_out(session, sari)
    data = export_asn(session, sari)
    assert data["roster"]["nip"] == sari.nip and data["roster"]["telepon"] == PHONE
    assert [a["account_id"] for a in data["chat_accounts"]] == [TG]
    sent = [d for d in data["deliveries"] if d["post_id"] == sent_id]
    assert [c["kind"] for c in sent[0]["confirmations"]] == ["like"]
    assert [h["event"] for h in data["consent"]["history"]] == ["given", "opted_out"]
    assert data["consent"]["version"] == CONSENT_VERSION
    assert any(a["action"] == "asn.register" for a in data["audit_log"])
    # Nobody else's deliveries.
    assert len(data["deliveries"]) == 2

    erase_asn(session, sari, actor="cli")
    after = export_asn(session, sari)
    assert after["chat_accounts"] == [] and after["deliveries"] == []
    assert after["consent"]["erased_at"] is not None
    assert [h["event"] for h in after["consent"]["history"]] == ["given", "opted_out", "erased"]


def test_hapus_from_an_account_that_is_no_ones_leaves_no_chat_id(session: Session) -> None:
    assert erase_account(session, "telegram", "424242") is False
    rows = session.exec(select(AuditLog)).all()
    assert not any("424242" in a.actor for a in rows)


def test_export_lists_each_delivery_once_with_its_taps_in_order(session: Session) -> None:
    """One read joins deliveries and taps: a delivery with two taps is one entry holding both
    (in the order tapped), an untapped one holds none; times are ISO strings."""
    sari, _, sent_id, queued_id = _world(session)
    confirm(session, delivery_of(session, sent_id, sari), "share")
    deliveries = export_asn(session, sari)["deliveries"]
    assert [(d["post_id"], d["status"]) for d in deliveries] == [
        (sent_id, "sent"),
        (queued_id, "pending"),
    ]
    sent, queued = deliveries
    assert list(sent) == [
        "post_id",
        "url",
        "caption",
        "channel",
        "status",
        "sent_at",
        "failed_at",
        "error",
        "reminded_at",
        "opened_at",
        "template_at",
        "billable",
        "pricing_category",
        "confirmations",
    ]
    assert sent["url"] == "https://www.instagram.com/p/sent/" and sent["channel"] == "telegram"
    assert isinstance(sent["sent_at"], str) and sent["failed_at"] is None
    assert [sorted(c) for c in sent["confirmations"]] == [["at", "kind"], ["at", "kind"]]
    assert [c["kind"] for c in sent["confirmations"]] == ["like", "share"]
    assert all(isinstance(c["at"], str) for c in sent["confirmations"])
    assert queued["confirmations"] == [] and queued["sent_at"] is None


# Columns that are Gaung's own bookkeeping, not something recorded about the person: every
# other column of these tables is in the export, so a new one needs a decision here.
NOT_EXPORTED = {
    "chat_identity": {"id", "asn_id"},
    "delivery": {
        "id",
        "asn_id",
        "opd_id",
        "identity_id",
        "attempts",
        "next_attempt_at",
        "lease_owner",
        "lease_until",
        "message_id",
        "failure_kind",
        "first_tried_at",
        "created_at",
    },
}


def test_export_carries_what_whatsapp_and_the_tracked_link_recorded(session: Session) -> None:
    """A WhatsApp account's business-scoped user id, and per delivery the measured open and
    what Meta billed, are the person's data too (``gaung asn export``, issue 12)."""
    asn = add_asn(session, opd="DINKES", phone="+6281234500077")
    identity = register(session, asn, channel="whatsapp", external_id="6281234500077")
    identity.user_id = "ID.0123456789abcdef"
    post = submit_post(session, opd_kode="DINKES", url="https://www.instagram.com/p/wa/")
    assert post.id is not None
    approve_post(session, post.id, now=datetime(2026, 11, 3, tzinfo=UTC))
    sent = delivery_of(session, post.id, asn)
    mark_sent(session, sent, "wamid.x")
    sent.opened_at = sent.template_at = datetime(2026, 11, 3, 1, tzinfo=UTC)
    sent.billable, sent.pricing_category = True, "marketing"
    session.add_all([identity, sent])
    session.commit()

    data = export_asn(session, asn)
    (account,) = data["chat_accounts"]
    assert (account["channel"], account["user_id"]) == ("whatsapp", "ID.0123456789abcdef")
    (delivery,) = data["deliveries"]
    assert delivery["opened_at"] == delivery["template_at"] == "2026-11-03T01:00:00+00:00"
    assert (delivery["billable"], delivery["pricing_category"]) == (True, "marketing")
    exported = {
        "chat_identity": {"external_id" if k == "account_id" else k for k in account},
        "delivery": set(delivery),
    }
    for name, keys in exported.items():
        columns = set(SQLModel.metadata.tables[name].c.keys())
        missing = columns - NOT_EXPORTED[name] - keys
        assert missing == set(), f"{name}: {sorted(missing)} neither exported nor listed"
