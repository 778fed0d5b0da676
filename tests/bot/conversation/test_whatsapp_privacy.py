"""Issue 12's privacy points on the WhatsApp path, where the account *is* the phone number.

On Telegram an account id is a number only Telegram gives meaning to; on WhatsApp the
``wa_id`` is the person's phone number, and the business-scoped ``user_id`` names them too.
So what issue 12 asks of chat data weighs more here: ``hapus`` must leave neither in any table
but the roster (whose phone is the employer's record and stays), and a stranger typing NIPs
must learn nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, SQLModel
from sqlmodel import select as orm_select

from bot.conversation import choices
from bot.conversation.flows import Settings
from bot.conversation.replies import Command, Person, Pressed, Text
from bot.whatsapp.adapter import remember_user_id
from db.delivery.pace import reserve_chat_slot
from db.models import Asn, ChatIdentity
from db.types import utcnow
from tests.bot.conversation.helpers import do, only
from tests.factories import add_asn, new_nip

NUMBER = "6281234567890"
USER_ID = "ID.1234567890abcdef"


def wa_person(number: str | None, user_id: str = USER_ID) -> Person:
    """As ``bot.whatsapp.adapter.person_of`` makes one: the number when WhatsApp shows it (and
    vouches for it), else the business-scoped user id."""
    account = number or user_id
    return Person("whatsapp", account, account, "Budi", phone=f"+{number}" if number else None)


def places_naming(session: Session, *needles: str) -> list[str]:
    """Every ``table.column`` outside the roster whose value contains one of ``needles``."""
    session.flush()
    conn = session.connection()
    found = []
    for tbl in SQLModel.metadata.sorted_tables:
        if tbl.name == "asn":  # the employer's record: its phone stays
            continue
        for row in conn.execute(select(tbl)).mappings():
            for column, value in row.items():
                if value is not None and any(n in str(value) for n in needles):
                    found.append(f"{tbl.name}.{column}")
    return sorted(set(found))


def test_hapus_on_whatsapp_leaves_the_number_and_user_id_nowhere_but_the_roster(
    session: Session,
) -> None:
    asn = add_asn(session, phone=f"+{NUMBER}")
    session.commit()
    # Before WhatsApp showed the number (a username hides it), the person wrote as user_id.
    hidden = wa_person(None)
    do(session, hidden, Text("halo"))
    # Then with the number shown: agreeing registers it; the adapter links the user id.
    person = wa_person(NUMBER)
    do(session, person, Command("start"))
    do(session, person, Pressed(choices.encode(choices.CONSENT, choices.AGREE)))
    remember_user_id(session, person, USER_ID)
    reserve_chat_slot(session, "whatsapp", NUMBER, interval=1.0, now=utcnow())  # a paced reply
    session.commit()
    identity = session.exec(orm_select(ChatIdentity).where(ChatIdentity.asn_id == asn.id)).one()
    assert identity.external_id == NUMBER and identity.user_id == USER_ID
    assert places_naming(session, NUMBER, USER_ID)  # the chat side names them before

    do(session, person, Command("hapus"))
    do(session, person, Pressed(choices.encode(choices.ERASE, choices.YES)))

    assert places_naming(session, NUMBER, USER_ID) == []
    roster = session.get(Asn, asn.id)
    assert roster is not None and roster.phone == f"+{NUMBER}"  # so they may register again
    again = only(do(session, person, Command("start")))
    assert again.buttons, "the erased person is offered to agree again"


def test_typed_nips_on_whatsapp_answer_the_same_words_and_are_limited(session: Session) -> None:
    """A stranger's number not in the roster: an existing, an inactive and a made-up NIP all
    get the same answer, naming neither person nor OPD; past the allowance, a refusal."""
    known = add_asn(session, nama="Siti Rahayu", opd="BAPPEDA", opd_nama="Badan Perencanaan")
    inactive = add_asn(session, nama="Joko Susilo")
    inactive.active = False
    session.add(inactive)
    session.commit()
    stranger = wa_person("6289999999999")
    settings = Settings(nip_attempts_per_day=3)
    unknown = new_nip()  # well formed, in nobody's record
    answers = [
        only(do(session, stranger, Text(nip), settings=settings)).text
        for nip in (known.nip, inactive.nip, unknown)
    ]
    assert len(set(answers)) == 1, answers
    for name in ("Siti", "Rahayu", "Joko", "BAPPEDA", "Perencanaan"):
        assert name not in answers[0]
    refused = only(do(session, stranger, Text(known.nip), settings=settings)).text
    assert refused != answers[0]
    assert session.exec(orm_select(ChatIdentity)).first() is None


def test_a_flood_on_whatsapp_is_limited_per_number_with_one_polite_word(
    session: Session,
) -> None:
    settings = Settings(messages_per_minute=3)
    flooder, other = wa_person("6281111111111"), wa_person("6282222222222")
    answers = [do(session, flooder, Text("halo"), settings=settings) for _ in range(6)]
    assert all(a.replies for a in answers[:3])
    assert len(answers[3].replies) == 1 and "terlalu cepat" in answers[3].replies[0].text
    assert [a.replies for a in answers[4:]] == [[], []]  # the rest of the flood: silence
    assert do(session, other, Text("halo"), settings=settings).replies  # per number


def test_presses_on_whatsapp_are_messages_and_share_the_flood_limit(session: Session) -> None:
    """A WhatsApp button reply is a message and so is its answer (Telegram answers a press
    with a toast, outside the sending budget): a flood of presses is limited like one of
    texts, with one polite word."""
    settings = Settings(messages_per_minute=3)
    flooder = wa_person("6283333333333")
    forged = Pressed("zz:1:a")
    answers = [do(session, flooder, forged, settings=settings) for _ in range(6)]
    assert all(a.answer or a.replies for a in answers[:3])
    assert len(answers[3].replies) == 1 and "terlalu cepat" in answers[3].replies[0].text
    assert [(a.answer, a.replies) for a in answers[4:]] == [(None, []), (None, [])]
    on_telegram = Person("telegram", "42", "42", "T")
    toasts = [do(session, on_telegram, forged, settings=settings) for _ in range(6)]
    assert all(t.answer for t in toasts)  # toasts cost no message
