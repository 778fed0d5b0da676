"""Webhook signature, handshake and parsing, on the bytes the emulator really delivers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.base import OutgoingPost
from bot.conversation.choices import parse_tap as parse_callback
from bot.emulators.whatsapp import WhatsAppEmulator
from bot.whatsapp.sender import WhatsAppChannel, parse_tracker
from bot.whatsapp.webhook import (
    BadEvent,
    BadSignature,
    ButtonReply,
    Contact,
    InboundText,
    OtherInbound,
    QuickReply,
    Status,
    inbox_key,
    parse_body,
    parse_events,
    signature,
    verified_events,
    verify_challenge,
    verify_signature,
    window_open,
)
from tests.bot.whatsapp.receiver import Receiver

SECRET = "rahasia-aplikasi"


@pytest.fixture
def hook(wa: WhatsAppEmulator, wa_receiver: Receiver) -> Receiver:
    wa_receiver.clear()
    wa.world.set_webhook(wa_receiver.url, app_secret=SECRET)
    return wa_receiver


def events_of(
    hook: Receiver, count: int
) -> list[Status | InboundText | ButtonReply | QuickReply | OtherInbound]:
    """Every event of the first ``count`` webhooks, each signature checked first."""
    found = []
    for received in hook.wait_count(count)[:count]:
        assert verify_signature(received.body, received.headers["x-hub-signature-256"], SECRET)
        found.extend(parse_body(received.body))
    return found


def send_post(wa: WhatsAppEmulator, chat_id: str, *, delivery_id: int, window_open: bool) -> str:
    async def go() -> str:
        channel = WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url)
        try:
            return await channel.send_post(
                OutgoingPost(
                    delivery_id,
                    chat_id,
                    "https://x.test/p/1",
                    None,
                    "instagram",
                    "Dinas Kominfo",
                    window_open=window_open,
                )
            )
        finally:
            await channel.aclose()

    return asyncio.run(go())


# ----- signature and handshake --------------------------------------------------------------
def test_the_signature_covers_the_exact_bytes_and_needs_the_secret() -> None:
    body = b'{"object":"whatsapp_business_account","x":"https:\\/\\/a"}'
    good = signature(SECRET, body)
    assert verify_signature(body, good, SECRET)
    assert not verify_signature(body + b" ", good, SECRET)
    assert not verify_signature(json.dumps(json.loads(body)).encode(), good, SECRET)
    assert not verify_signature(body, good, "lain")
    assert not verify_signature(body, None, SECRET)
    assert not verify_signature(body, "", SECRET)
    assert not verify_signature(body, good.removeprefix("sha256="), SECRET)
    assert not verify_signature(body, good, "")  # no secret configured: nothing verifies


def test_the_handshake_echoes_the_challenge_only_for_our_token() -> None:
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "T"}
    assert verify_challenge(params, "T") == "1158201444"
    assert verify_challenge(params, "U") is None
    assert verify_challenge({**params, "hub.mode": "unsubscribe"}, "T") is None
    assert verify_challenge({"hub.mode": "subscribe", "hub.challenge": "1"}, "T") is None
    assert verify_challenge({**params, "hub.verify_token": ""}, "") is None


# ----- parsing what the emulator delivers ---------------------------------------------------
def test_text_from_a_user_is_keyed_by_wa_id_and_user_id(
    wa: WhatsAppEmulator, hook: Receiver
) -> None:
    user = wa.world.add_user("Budi Santoso")
    sent = wa.world.say(user.wa_id, "halo https://gaung.test/ 👋")
    [event] = events_of(hook, 1)
    assert isinstance(event, InboundText)
    assert event.text == "halo https://gaung.test/ 👋"
    assert event.message_id == sent["id"]
    assert event.timestamp == int(sent["timestamp"])
    assert event.contact.wa_id == user.wa_id
    assert event.contact.user_id == user.user_id
    assert event.contact.name == "Budi Santoso"
    assert event.phone_number_id == wa.phone_id


def test_a_username_user_has_no_wa_id(wa: WhatsAppEmulator, hook: Receiver) -> None:
    user = wa.world.add_user("Nadia", username="nadia.asn", hide_phone=True)
    wa.world.say(user.user_id, "halo")
    [event] = events_of(hook, 1)
    assert event.contact.wa_id is None
    assert event.contact.user_id == user.user_id
    assert event.contact.username == "nadia.asn"


def test_a_tap_on_a_post_comes_back_as_its_delivery_and_kind(
    wa: WhatsAppEmulator, hook: Receiver
) -> None:
    inside = wa.world.add_user("Budi", in_window=True)
    outside = wa.world.add_user("Sari")
    first = send_post(wa, inside.wa_id, delivery_id=11, window_open=True)
    second = send_post(wa, outside.wa_id, delivery_id=12, window_open=False)
    events = events_of(hook, 4)
    statuses = [e for e in events if isinstance(e, Status)]
    assert sorted((parse_tracker(s.tracker), s.status) for s in statuses) == [
        (11, "delivered"),
        (11, "sent"),
        (12, "delivered"),
        (12, "sent"),
    ]
    billed = {parse_tracker(s.tracker): s.pricing for s in statuses}
    assert billed[11] is not None and billed[11].billable is False
    assert billed[12] is not None and billed[12].billable is True
    assert billed[12].category == "marketing" and billed[12].model == "PMP"

    wa.world.press(inside.wa_id, first, "Like")
    wa.world.quick_reply(outside.wa_id, second, "Share")
    taps = events_of(hook, 6)[4:]
    reply = next(e for e in taps if isinstance(e, ButtonReply))
    quick = next(e for e in taps if isinstance(e, QuickReply))
    assert parse_callback(reply.button_id) == (11, "like")
    assert reply.title == "👍 Sudah Like" and reply.context_id == first
    assert reply.contact.user_id == inside.user_id
    assert parse_callback(quick.payload) == (12, "share")
    assert quick.text == "🔁 Sudah Share" and quick.context_id == second


def test_failed_statuses_carry_their_errors(wa: WhatsAppEmulator, hook: Receiver) -> None:
    stale = wa.world.add_user()
    send_post(wa, stale.wa_id, delivery_id=5, window_open=True)
    send_post(wa, "6289999999999", delivery_id=6, window_open=False)
    failed = {parse_tracker(e.tracker): e for e in events_of(hook, 2) if isinstance(e, Status)}
    assert failed[5].status == "failed" and failed[5].errors[0].code == 131047
    assert failed[6].errors[0].code == 131026
    assert failed[6].contact.wa_id == "6289999999999"
    assert failed[5].pricing is None
    assert failed[5].errors[0].details


def test_a_read_status_and_an_unsupported_message_type(
    wa: WhatsAppEmulator, hook: Receiver
) -> None:
    user = wa.world.add_user(in_window=True)
    message_id = send_post(wa, user.wa_id, delivery_id=3, window_open=True)
    wa.world.read(user.wa_id, message_id)
    events = events_of(hook, 3)
    assert [e.status for e in events if isinstance(e, Status)] == ["sent", "delivered", "read"]
    payload = json.loads(hook.received[0].body)
    value = payload["entry"][0]["changes"][0]["value"]
    value.pop("statuses")
    value["messages"] = [
        {
            "from": user.wa_id,
            "from_user_id": user.user_id,
            "id": "wamid.X",
            "timestamp": "1800000000",
            "type": "image",
            "image": {"id": "1"},
        }
    ]
    [other] = parse_events(payload)
    assert isinstance(other, OtherInbound) and other.type == "image"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object":"page","entry":[]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"contacts":[{"profile":{}}],"messages":[{"id":"w","timestamp":"1",'
        b'"type":"text","text":{"body":"x"}}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"contacts":[{"wa_id":"1","user_id":"ID.1"}],"messages":[{"id":"w",'
        b'"timestamp":"nanti","type":"text","text":{"body":"x"}}]}}]}]}',
    ],
)
def test_a_malformed_body_is_a_bad_event_not_a_crash(body: bytes) -> None:
    with pytest.raises(BadEvent):
        parse_body(body)


def test_other_fields_are_skipped() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
                ],
            }
        ],
    }
    assert parse_events(payload) == []


def test_a_batched_webhook_yields_every_event_in_order(wa: WhatsAppEmulator) -> None:
    wa.world.set_limits(webhook_batch=3)
    users = [wa.world.add_user(f"ASN {n}") for n in range(3)]
    for n, user in enumerate(users):
        wa.world.say(user.wa_id, f"pesan {n}")  # queued: no webhook yet
    with Receiver() as receiver:
        wa.world.set_webhook(receiver.url, app_secret=SECRET)
        [received] = receiver.wait_count(1)
    assert verify_signature(received.body, received.headers["x-hub-signature-256"], SECRET)
    events = parse_body(received.body)
    assert [(e.contact.user_id, e.text) for e in events if isinstance(e, InboundText)] == [
        (u.user_id, f"pesan {n}") for n, u in enumerate(users)
    ]


def test_unsigned_or_badly_signed_posts_yield_nothing() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    assert verified_events(body, signature(SECRET, body), SECRET) == []
    for header in (None, "", "sha256=00", signature("lain", body)):
        with pytest.raises(BadSignature):
            verified_events(body, header, SECRET)


def test_duplicates_share_a_dedupe_key(wa: WhatsAppEmulator, hook: Receiver) -> None:
    user = wa.world.add_user(in_window=True)
    wa.world.set_limits(duplicate_rate=1.0)
    message_id = send_post(wa, user.wa_id, delivery_id=9, window_open=True)
    wa.world.say(user.wa_id, "halo")
    events = events_of(hook, 6)  # sent, delivered and the text, each twice
    keys = [e.dedupe_key for e in events]
    assert len(keys) == 6
    assert sorted(set(keys)) == sorted(
        [
            f"{inbox_key(message_id)}:sent",
            f"{inbox_key(message_id)}:delivered",
            inbox_key(wa.world.inbound[-1]["id"]),
        ]
    )


def test_the_window_counts_from_the_users_message_time() -> None:
    sent = InboundText("wamid.A", Contact("ID.1", "6281"), 1_800_000_000, "1", text="halo")
    assert sent.at == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert window_open(sent.at, sent.at + timedelta(hours=23, minutes=59))
    assert not window_open(sent.at, sent.at + timedelta(hours=24))
    assert not window_open(None, sent.at)
