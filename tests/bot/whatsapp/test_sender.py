"""The WhatsApp sender: message shapes and error classes, against the emulator over HTTP."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from dataclasses import replace

import httpx
import pytest

from bot.channels import base
from bot.conversation.choices import parse_tap as parse_callback
from bot.emulators.whatsapp import WhatsAppEmulator
from bot.whatsapp.sender import (
    MAX_BODY,
    PairRateLimited,
    WhatsAppChannel,
    classify,
    parse_tracker,
    tracker,
)
from bot.whatsapp.transport import OriginTransport, graph_client

URL = "https://www.instagram.com/p/DKabc123/"


def post(
    chat_id: str, *, delivery_id: int = 41, window_open: bool = False, **kw: object
) -> base.OutgoingPost:
    fields: dict[str, object] = {
        "delivery_id": delivery_id,
        "chat_id": chat_id,
        "url": URL,
        "caption": "Peringatan Hari Jadi Kabupaten Mojokerto",
        "platform": "instagram",
        "opd_nama": "Dinas Komunikasi dan Informatika",
        "window_open": window_open,
        **kw,
    }
    return base.OutgoingPost(**fields)  # type: ignore[arg-type]


def send(
    wa: WhatsAppEmulator,
    message: base.OutgoingPost,
    *,
    token: str | None = None,
    phone_id: str | None = None,
    **options: object,
) -> str:
    """Send through a channel on the emulator (or as ``token``/``phone_id``/``options`` say)."""

    async def go() -> str:
        settings = {"api_url": wa.url, **options}
        channel = WhatsAppChannel(
            token or wa.token,
            phone_id or wa.phone_id,
            **settings,  # type: ignore[arg-type]
        )
        async with aclosing(channel):
            return await channel.send_post(message)

    return asyncio.run(go())


def failure(wa: WhatsAppEmulator, message: base.OutgoingPost, **options: object) -> base.SendError:
    with pytest.raises(base.SendError) as caught:
        send(wa, message, **options)
    return caught.value


def test_inside_the_window_a_post_has_like_and_share_reply_buttons(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user("Budi", in_window=True)
    message_id = send(wa, post(user.wa_id, window_open=True))
    sent = wa.world.messages(user.wa_id)[-1]
    assert message_id == sent.id and message_id.startswith("wamid.")
    assert sent.type == "interactive"
    assert URL in sent.text()
    assert "Dinas Komunikasi dan Informatika" in sent.text()
    assert "Peringatan Hari Jadi" in sent.text()
    assert sent.buttons() == [
        {"id": "g1:41:l", "title": "👍 Sudah Like"},
        {"id": "g1:41:s", "title": "🔁 Sudah Share"},
    ]
    assert [parse_callback(b["id"]) for b in sent.buttons()] == [(41, "like"), (41, "share")]
    assert sent.tracker == tracker(41) and parse_tracker(sent.tracker) == 41
    assert sent.statuses == ["sent", "delivered"]
    assert sent.pricing["billable"] is False


def test_outside_the_window_the_post_is_the_template_with_quick_replies(
    wa: WhatsAppEmulator,
) -> None:
    user = wa.world.add_user("Sari")
    send(wa, post(user.wa_id, delivery_id=7))
    sent = wa.world.messages(user.wa_id)[-1]
    assert sent.type == "template"
    assert sent.payload["name"] == "gaung_postingan_baru"
    assert sent.payload["language"] == {"code": "id"}
    assert "Dinas Komunikasi dan Informatika" in sent.text() and URL in sent.text()
    assert sent.buttons() == [
        {"payload": "g1:7:l", "text": "👍 Sudah Like"},
        {"payload": "g1:7:s", "text": "🔁 Sudah Share"},
    ]
    assert sent.tracker == "g1:7"
    assert sent.statuses == ["sent", "delivered"]
    assert sent.pricing == {
        "billable": True,
        "pricing_model": "PMP",
        "type": "regular",
        "category": "marketing",
    }
    assert wa.world.reached_today() == 1


def test_a_configured_template_and_language_are_used(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user()
    error = failure(wa, post(user.wa_id), template="lain", template_language="en_US")
    assert isinstance(error, base.Misconfigured)
    assert error.reason.startswith("132001")


def test_a_reminder_shows_what_is_already_confirmed(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user(in_window=True)
    send(wa, post(user.wa_id, window_open=True, reminder=True, confirmed=frozenset({"like"})))
    sent = wa.world.messages(user.wa_id)[-1]
    assert [b["title"] for b in sent.buttons()] == ["✅ Sudah Like", "🔁 Sudah Share"]
    assert sent.text().startswith("⏰ Pengingat")


def test_a_long_caption_is_cut_so_the_body_fits_and_keeps_the_url(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user(in_window=True)
    send(wa, post(user.wa_id, window_open=True, caption="kata " * 400))
    body = wa.world.messages(user.wa_id)[-1].text()
    assert len(body) <= MAX_BODY
    assert URL in body and "…" in body


def test_a_user_known_only_by_user_id_is_reached(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user("Nadia", username="nadia.asn", hide_phone=True, in_window=True)
    send(wa, post(user.user_id, window_open=True))
    assert wa.world.messages(user.wa_id)[-1].to == user.user_id


def test_accepted_is_not_delivered(wa: WhatsAppEmulator) -> None:
    """The send succeeds; the failure comes later by status webhook (the lead wires that)."""
    stale = wa.world.add_user()
    send(wa, post(stale.wa_id, window_open=True))  # our record said open; Meta says closed
    assert wa.world.messages(stale.wa_id)[-1].error == 131047
    send(wa, post("6289999999999"))
    assert wa.world.stats()["failed"] == {"131047": 1, "131026": 1}


def test_errors_are_classified_for_the_broadcaster(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user(in_window=True)
    message = post(user.wa_id, window_open=True)

    assert isinstance(failure(wa, message, token="EAAG-WRONG"), base.Misconfigured)

    wa.world.set_limits(rate=1)
    send(wa, message)
    throttled = failure(wa, message, throughput_wait=1.5)
    assert isinstance(throttled, base.RateLimited) and throttled.retry_after == 1.5
    assert throttled.reason.startswith("130429")

    wa.world.set_limits(rate=1000, pair_burst=1)
    send(wa, message)
    pair = failure(wa, message, pair_wait=6.0)
    assert isinstance(pair, PairRateLimited) and pair.retry_after == 6.0

    wa.world.set_limits(pair_burst=100)
    wa.world.set_template_status("gaung_postingan_baru", "id", "PAUSED")
    assert isinstance(failure(wa, replace(message, window_open=False)), base.Misconfigured)

    wa.world.inject_fault("error", status=500)
    assert isinstance(failure(wa, message), base.Transient)
    wa.world.inject_fault("drop")
    assert isinstance(failure(wa, message), base.Transient)


def test_a_wrong_api_url_or_phone_id_is_misconfigured(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user(in_window=True)
    message = post(user.wa_id, window_open=True)
    assert isinstance(failure(wa, message, api_url=f"{wa.url}/salah"), base.Misconfigured)
    error = failure(wa, message, phone_id="123")
    assert isinstance(error, base.Rejected) and error.reason.startswith("100")


def test_a_closed_port_is_transient(wa: WhatsAppEmulator) -> None:
    from bot.emulators.thread import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    message = post("6281", window_open=True)
    assert isinstance(failure(wa, message, token="t", phone_id="1", api_url=closed), base.Transient)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (130429, base.RateLimited),
        (131056, PairRateLimited),
        (4, base.RateLimited),
        (80007, base.RateLimited),
        (131026, base.Unreachable),
        (131047, base.Unreachable),
        (131050, base.Unreachable),
        (190, base.Misconfigured),
        (368, base.Misconfigured),
        (131031, base.Misconfigured),
        (133010, base.Misconfigured),
        (131051, base.Rejected),
        (132001, base.Misconfigured),
        (132016, base.Misconfigured),
        (1, base.Transient),
        (2, base.Transient),
        (131000, base.Transient),
        (502, base.Transient),
        (100, base.Rejected),
        (131009, base.Rejected),
    ],
)
def test_classify_by_code(code: int, kind: type[base.SendError]) -> None:
    assert type(classify(code, f"{code}: x")) is kind


def test_the_transport_rewrites_the_origin_and_keeps_path_query_and_headers() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async def go() -> None:
        client = graph_client("http://127.0.0.1:9/prefix", inner=httpx.MockTransport(record))
        client.base_url = "https://graph.facebook.com/v26.0"  # what pywa sets
        client.headers["Authorization"] = "Bearer T"
        await client.post("/123/messages?x=1", json={"a": 1})
        await client.aclose()

    asyncio.run(go())
    [request] = seen
    assert str(request.url) == "http://127.0.0.1:9/prefix/v26.0/123/messages?x=1"
    assert request.headers["host"] == "127.0.0.1:9"
    assert request.headers["authorization"] == "Bearer T"
    with pytest.raises(ValueError):
        OriginTransport("ftp://x", httpx.MockTransport(record))


def test_a_lost_answer_is_transient_though_the_message_was_sent(wa: WhatsAppEmulator) -> None:
    """Why the broadcaster must not resend blindly: the emulator shows the message arrived."""
    user = wa.world.add_user(in_window=True)
    wa.world.inject_fault("lost")
    assert isinstance(failure(wa, post(user.wa_id, window_open=True)), base.Transient)
    assert wa.world.delivered_counts()[user.wa_id] == 1


def test_a_conversation_reply_with_reply_buttons(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user(in_window=True)

    async def go() -> list[str | base.SendError]:
        results: list[str | base.SendError] = []
        async with aclosing(WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url)) as channel:
            results.append(await channel.send_text(user.wa_id, "Terima kasih."))
            results.append(
                await channel.send_text(user.wa_id, "Setuju?", [("r:setuju", "✅ Setuju")])
            )
            for bad in (
                [("a", "x" * 21)],
                [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")],
                [("", "kosong")],
            ):
                with pytest.raises(base.Rejected) as caught:
                    await channel.send_text(user.wa_id, "x", bad)
                results.append(caught.value)
        return results

    results = asyncio.run(go())
    assert all(isinstance(r, str) for r in results[:2])
    assert all(isinstance(r, base.Rejected) for r in results[2:])
    plain, consent = wa.world.messages(user.wa_id)
    assert plain.type == "text" and plain.text() == "Terima kasih."
    assert consent.buttons() == [{"id": "r:setuju", "title": "✅ Setuju"}]
    assert len(wa.world.messages(user.wa_id)) == 2  # refused replies never left


@pytest.mark.parametrize(
    "chat_id", ["6281234567890", "US.13491208655302741918"], ids=["wa_id", "user_id"]
)
@pytest.mark.parametrize("window_open", [False, True], ids=["template", "interactive"])
def test_a_post_is_the_request_pywa_would_send(chat_id: str, window_open: bool) -> None:
    """Posts skip pywa's objects (``post_request`` through the lean client): the body must
    stay the one pywa builds for the same post, byte for byte once parsed."""
    bodies: list[bytes] = []

    def capture(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": chat_id, "wa_id": chat_id}],
            "messages": [{"id": "wamid.X"}],
        }
        return httpx.Response(200, json=answer)

    message = post(chat_id, window_open=window_open)

    async def through_pywa() -> None:
        channel = WhatsAppChannel("T", "1", transport=httpx.MockTransport(capture))
        assert await channel.send_post(message) == "wamid.X"  # an injected transport: pywa
        await channel.aclose()

    asyncio.run(through_pywa())
    lean = WhatsAppChannel("T", "1", api_url="http://127.0.0.1:9")
    assert json.loads(bodies[0]) == lean.post_request(message)
