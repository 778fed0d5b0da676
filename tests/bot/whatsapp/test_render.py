"""A conversation reply within WhatsApp's limits, and typed keywords as commands."""

from __future__ import annotations

from bot.conversation import replies as said
from bot.conversation.replies import Button, Reply
from bot.texts import Markup
from bot.whatsapp.adapter import action_of, person_of
from bot.whatsapp.render import messages
from bot.whatsapp.webhook import Contact, InboundText


def test_long_titles_are_cut_links_go_in_the_body_and_choices_come_three_at_a_time() -> None:
    reply = Reply(
        Markup("Unggahan <b>baru</b> &amp; penting"),
        (
            (Button("✅ Setujui (semua OPD)", data="a:1:all"),),
            (Button("Buka", url="https://instagram.com/p/x"),),
            (Button("B", data="b"), Button("C", data="c"), Button("D", data="d")),
        ),
    )
    out = messages(reply)
    assert len(out) == 2
    body, buttons = out[0]
    assert body.startswith("Unggahan *baru* & penting") and "https://instagram.com/p/x" in body
    assert [t for _, t in buttons] == ["✅ Setujui (semua OP…", "B", "C"]
    assert all(len(t) <= 20 for _, t in buttons)
    assert out[1][1] == [("d", "D")]


def test_a_body_too_long_for_buttons_goes_alone_first() -> None:
    out = messages(Reply(Markup("x" * 1500), ((Button("Ya", data="h:y"),),)))
    assert len(out) == 2 and out[0][1] == [] and len(out[0][0]) == 1500
    assert out[1][1] == [("h:y", "Ya")] and len(out[1][0]) <= 1024


def event(text: str, wa_id: str | None = "6281234500001") -> InboundText:
    return InboundText(
        message_id="wamid.1",
        contact=Contact(user_id="ID.7", wa_id=wa_id, name="Sari"),
        timestamp=1_800_000_000,
        phone_number_id="1",
        text=text,
    )


def test_keywords_are_commands_and_the_number_is_vouched_for() -> None:
    assert action_of(event("Status")) == said.Command("status")
    assert action_of(event("/berhenti")) == said.Command("berhenti")
    assert action_of(event("status saya")) == said.Text("status saya")
    person = person_of(event("halo"))
    assert person.external_id == "6281234500001" and person.phone == "+6281234500001"
    hidden = person_of(event("halo", wa_id=None))
    assert hidden.external_id == "ID.7" and hidden.phone is None
