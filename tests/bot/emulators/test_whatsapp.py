"""The WhatsApp Cloud API emulator answers as shared/channels.md says Meta does, over raw HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from bot.emulators.whatsapp import Limits, Template, TemplateButton, WhatsAppEmulator
from bot.emulators.whatsapp.runner import EmulatorProcess
from bot.emulators.whatsapp.world import WINDOW, World
from tests.bot.whatsapp.receiver import Receiver

SECRET = "app-secret-for-tests"
START = 1_800_000_000.0


class FrozenClock:
    """Epoch seconds that move only when the test says: limits and windows without waiting."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def wa(wa_server: WhatsAppEmulator, clock: FrozenClock) -> WhatsAppEmulator:
    """The session's emulator with a fresh world (limits, users, clock) for this test."""
    wa_server.reset(Limits(rate=1000, pair_burst=100, webhook_retry_base=0.05), clock=clock)
    return wa_server


@pytest.fixture
def hook(wa: WhatsAppEmulator, wa_receiver: Receiver) -> Receiver:
    wa_receiver.clear()
    wa.world.set_webhook(wa_receiver.url, app_secret=SECRET, verify_token=wa_receiver.verify_token)
    return wa_receiver


def send(wa: WhatsAppEmulator, body: dict[str, Any], *, token: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{wa.url}/v26.0/{wa.phone_id}/messages",
        json={"messaging_product": "whatsapp", **body},
        headers={"Authorization": f"Bearer {token or wa.token}"},
        timeout=10,
    )


def text(to: str, body: str = "halo", **extra: Any) -> dict[str, Any]:
    return {"to": to, "type": "text", "text": {"body": body}, **extra}


def template(
    to: str,
    *params: str,
    name: str = "gaung_postingan_baru",
    lang: str = "id",
    buttons: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    components: list[dict[str, Any]] = [
        {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
    ]
    components += buttons or []
    return {
        "to": to,
        "type": "template",
        "template": {"name": name, "language": {"code": lang}, "components": components},
        **extra,
    }


def quick(index: int, payload: str) -> dict[str, Any]:
    return {"type": "button", "sub_type": "quick_reply", "index": index,
            "parameters": [{"type": "payload", "payload": payload}]}  # fmt: skip


def buttons_message(to: str, titles: list[str], body: str = "Unggahan baru") -> dict[str, Any]:
    return {
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": f"b{i}", "title": t}}
                    for i, t in enumerate(titles)
                ]
            },
        },
    }


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def statuses(wa: WhatsAppEmulator, message_id: str) -> list[dict[str, Any]]:
    """Status items queued for one message (before the webhook takes them)."""
    found = []
    for event in wa.world.events:
        for item in event["entry"][0]["changes"][0]["value"].get("statuses", []):
            if item["id"] == message_id:
                found.append(item)
    return found


# ----- sending ------------------------------------------------------------------------------
def test_a_send_answers_with_a_wamid_accepted_then_sent_and_delivered(
    wa: WhatsAppEmulator,
) -> None:
    user = wa.world.add_user("Budi", in_window=True)
    response = send(wa, text(user.wa_id, biz_opaque_callback_data="g1:5"))
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": user.wa_id, "wa_id": user.wa_id}]
    [message] = body["messages"]
    assert message["id"].startswith("wamid.")
    assert message["message_status"] == "accepted"
    items = statuses(wa, message["id"])
    assert [s["status"] for s in items] == ["sent", "delivered"]
    for item in items:
        assert item["biz_opaque_callback_data"] == "g1:5"
        assert item["pricing"] == {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        }
        assert isinstance(item["timestamp"], str)
    assert wa.world.messages(user.wa_id)[0].text() == "halo"


def test_a_bsuid_recipient_is_answered_with_its_user_id(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user("Nadia", username="nadia.asn", hide_phone=True, in_window=True)
    response = send(wa, {"recipient": user.user_id, "type": "text", "text": {"body": "x"}})
    assert response.status_code == 200
    assert response.json()["contacts"] == [{"input": user.user_id, "user_id": user.user_id}]
    assert wa.world.delivered_counts()[user.wa_id] == 1


def test_a_bad_or_missing_token_is_401_code_190_in_metas_envelope(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user(in_window=True)
    for response in (
        send(wa, text(user.wa_id), token="EAAG-WRONG"),
        httpx.post(f"{wa.url}/v26.0/{wa.phone_id}/messages", json=text(user.wa_id), timeout=5),
    ):
        assert response.status_code == 401
        error = error_of(response)
        assert error["code"] == 190
        assert error["type"] == "OAuthException"
        assert error["message"].startswith("(#190) ")
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert error["error_data"]["details"]
        assert error["fbtrace_id"]
    assert wa.world.sent == {}


def test_an_unknown_phone_id_is_code_100(wa: WhatsAppEmulator) -> None:
    response = httpx.post(
        f"{wa.url}/v26.0/999/messages",
        json=text("62811"),
        headers={"Authorization": f"Bearer {wa.token}"},
        timeout=5,
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == 100
    assert error_of(response)["error_subcode"] == 33


@pytest.mark.parametrize(
    ("shape", "after_half", "after_window"),
    [("bucket", 2, 3), ("sliding", 0, 5), ("fixed", 0, 5)],
)
def test_throughput_shapes_count_as_configured(
    wa: WhatsAppEmulator, clock: FrozenClock, shape: str, after_half: int, after_window: int
) -> None:
    """Meta does not publish how 80/s is counted: each shape refuses the sixth send of a
    second at 5/s, and differs in when sends are accepted again (a bucket refills tokens
    continuously; a window frees its sends when they leave it)."""
    wa.world.set_limits(rate=5, shape=shape)
    clock.advance(1.2 - clock() % 1.0)  # 0.2 s into a fixed window
    users = [wa.world.add_user(in_window=True) for _ in range(12)]
    codes = [send(wa, text(u.wa_id)).status_code for u in users[:6]]
    assert codes == [200] * 5 + [429]
    clock.advance(0.5)  # half a second on: the bucket has refilled 2.5 tokens
    half = [send(wa, text(u.wa_id)).status_code for u in users[6:9]]
    assert half.count(200) == after_half
    clock.advance(0.51)  # a new fixed window; the first five left the sliding one
    assert [send(wa, text(u.wa_id)).status_code for u in users[:5]].count(200) == after_window


def test_an_unknown_throughput_shape_is_refused(wa: WhatsAppEmulator) -> None:
    with pytest.raises(ValueError, match="shape"):
        Limits(shape="leaky").throughput()


def test_throughput_over_the_rate_is_130429_with_http_429(
    wa: WhatsAppEmulator, clock: FrozenClock
) -> None:
    wa.world.set_limits(rate=5)
    users = [wa.world.add_user(in_window=True) for _ in range(6)]
    codes = [send(wa, text(u.wa_id)).status_code for u in users]
    assert codes == [200] * 5 + [429]
    refused = send(wa, text(users[0].wa_id))
    assert refused.status_code == 429
    assert error_of(refused)["code"] == 130429
    assert len(wa.world.sent) == 5  # a refused send is not sent
    clock.advance(1.0)
    assert send(wa, text(users[5].wa_id)).status_code == 200


def test_the_pair_rate_limits_one_user_not_the_others(
    wa: WhatsAppEmulator, clock: FrozenClock
) -> None:
    wa.world.set_limits(pair_rate=1 / 6, pair_burst=2)
    budi, sari = wa.world.add_user(in_window=True), wa.world.add_user(in_window=True)
    assert [send(wa, text(budi.wa_id)).status_code for _ in range(2)] == [200, 200]
    refused = send(wa, text(budi.wa_id))
    assert refused.status_code == 400
    assert error_of(refused)["code"] == 131056
    assert send(wa, text(sari.wa_id)).status_code == 200
    clock.advance(3)
    assert error_of(send(wa, text(budi.wa_id)))["code"] == 131056
    clock.advance(3)
    assert send(wa, text(budi.wa_id)).status_code == 200


def test_free_form_outside_the_window_is_accepted_then_fails_131047(
    wa: WhatsAppEmulator, clock: FrozenClock
) -> None:
    user = wa.world.add_user("Sari")
    response = send(wa, text(user.wa_id))
    assert response.status_code == 200  # accepted is not delivered
    [failed] = statuses(wa, response.json()["messages"][0]["id"])
    assert failed["status"] == "failed"
    assert failed["errors"][0]["code"] == 131047
    assert "pricing" not in failed
    assert wa.world.delivered_counts()[user.wa_id] == 0

    wa.world.say(user.wa_id, "halo")  # opens the window
    ok = send(wa, text(user.wa_id)).json()["messages"][0]["id"]
    assert [s["status"] for s in statuses(wa, ok)] == ["sent", "delivered"]
    clock.advance(WINDOW - 1)
    assert send(wa, text(user.wa_id)).status_code == 200
    assert wa.world.messages(user.wa_id)[-1].error is None
    clock.advance(2)  # 24 h and a second since the user's message
    late = send(wa, text(user.wa_id)).json()["messages"][0]["id"]
    assert statuses(wa, late)[0]["errors"][0]["code"] == 131047


def test_a_number_not_on_whatsapp_fails_131026_with_a_user_id_in_contacts(
    wa: WhatsAppEmulator,
) -> None:
    response = send(wa, template("6289999999999", "Dinas", "https://x.test/p"))
    assert response.status_code == 200
    message_id = response.json()["messages"][0]["id"]
    [event] = [
        e for e in wa.world.events
        if e["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] == message_id
    ]  # fmt: skip
    value = event["entry"][0]["changes"][0]["value"]
    assert value["statuses"][0]["status"] == "failed"
    assert value["statuses"][0]["errors"][0]["code"] == 131026
    assert value["contacts"][0]["wa_id"] == "6289999999999"
    assert value["contacts"][0]["user_id"].startswith("ID.")


def test_the_messaging_limit_counts_unique_users_outside_the_window_per_moving_day(
    wa: WhatsAppEmulator, clock: FrozenClock
) -> None:
    wa.world.set_limits(messaging_limit=2)
    a, b, c = (wa.world.add_user() for _ in range(3))
    inside = wa.world.add_user(in_window=True)

    def outcome(to: str) -> list[str]:
        message_id = send(wa, template(to, "Dinas", "https://x.test/p")).json()["messages"][0]["id"]
        return [s["status"] for s in statuses(wa, message_id)]

    assert outcome(a.wa_id) == ["sent", "delivered"]
    clock.advance(3600)
    assert outcome(b.wa_id) == ["sent", "delivered"]
    assert outcome(a.wa_id) == ["sent", "delivered"]  # a is counted once
    assert outcome(inside.wa_id) == ["sent", "delivered"]  # inside a window: not counted
    assert outcome(c.wa_id) == ["failed"]
    assert wa.world.reached_today() == 2
    assert wa.world.messages(c.wa_id)[-1].error == wa.world.limits.tier_error
    clock.advance(WINDOW - 3600)  # a's day is over, b's is not
    assert outcome(c.wa_id) == ["sent", "delivered"]
    assert outcome(a.wa_id) == ["failed"]
    wa.world.set_limits(messaging_limit=None)  # the unlimited tier
    assert outcome(a.wa_id) == ["sent", "delivered"]


def test_a_user_who_stopped_marketing_gets_no_marketing_template(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user()
    response = httpx.post(
        f"{wa.url}/_emulator/update_user",
        json={"user": user.wa_id, "stopped_marketing": True},
        timeout=5,
    )
    assert response.status_code == 200
    message_id = send(wa, template(user.wa_id, "a", "b")).json()["messages"][0]["id"]
    assert statuses(wa, message_id)[0]["errors"][0]["code"] == 131050
    assert wa.world.reached_today() == 0
    wrong = httpx.post(
        f"{wa.url}/_emulator/update_user", json={"user": user.wa_id, "wa_id": "1"}, timeout=5
    )
    assert wrong.status_code == 400


def test_templates_are_checked_by_name_language_status_and_parameters(
    wa: WhatsAppEmulator,
) -> None:
    to = wa.world.add_user().wa_id
    ok = template(to, "Dinas", "https://x.test/p", buttons=[quick(0, "g1:1:l"), quick(1, "g1:1:s")])
    assert send(wa, ok).status_code == 200
    cases = {
        132001: [template(to, "a", "b", name="tidak_ada"), template(to, "a", "b", lang="en_US")],
        132000: [
            template(to, "hanya satu"),
            template(to, "a", "b", "c"),
            template(to, "a", "b", buttons=[quick(5, "x")]),
            template(to, "a", "b", buttons=[{**quick(0, "x"), "sub_type": "url"}]),
        ],
    }
    for code, bodies in cases.items():
        for body in bodies:
            response = send(wa, body)
            assert response.status_code == 400, body
            assert error_of(response)["code"] == code, body
    wa.world.set_template_status("gaung_postingan_baru", "id", "paused")
    assert error_of(send(wa, template(to, "a", "b")))["code"] == 132015
    wa.world.set_template_status("gaung_postingan_baru", "id", "disabled")
    assert error_of(send(wa, template(to, "a", "b")))["code"] == 132016


def test_a_template_renders_its_parameters_and_quick_reply_payloads(
    wa: WhatsAppEmulator,
) -> None:
    wa.world.add_template(
        Template(
            "pengingat",
            "id",
            "Halo {{1}}",
            [TemplateButton("url", "Buka", "https://gaung.test/p/{{1}}"),
             TemplateButton("quick_reply", "Sudah Like")],
            category="utility",
        )
    )  # fmt: skip
    to = wa.world.add_user().wa_id
    url_param = {"type": "button", "sub_type": "url", "index": 0,
                 "parameters": [{"type": "text", "text": "42"}]}  # fmt: skip
    assert error_of(send(wa, template(to, "Budi", name="pengingat")))["code"] == 132000
    response = send(wa, template(to, "Budi", name="pengingat", buttons=[url_param]))
    assert response.status_code == 200
    sent = wa.world.messages(to)[-1]
    assert sent.text() == "Halo Budi"
    assert sent.buttons() == [{"payload": "Sudah Like", "text": "Sudah Like"}]
    assert sent.pricing["category"] == "utility"
    assert sent.pricing["billable"] is True  # outside the window even utility is charged


def test_reply_buttons_follow_metas_limits(wa: WhatsAppEmulator) -> None:
    to = wa.world.add_user(in_window=True).wa_id
    assert send(wa, buttons_message(to, ["👍 Sudah Like", "🔁 Sudah Share"])).status_code == 200
    bad = {
        "title over 20": buttons_message(to, ["x" * 21]),
        "four buttons": buttons_message(to, ["a", "b", "c", "d"]),
        "no buttons": buttons_message(to, []),
        "body over 1024": buttons_message(to, ["a"], body="x" * 1025),
    }
    for what, body in bad.items():
        response = send(wa, body)
        assert response.status_code == 400, what
        assert error_of(response)["code"] == 131009, what
    missing = buttons_message(to, ["a"], body="")
    assert error_of(send(wa, missing))["code"] == 131008


def test_an_injected_server_error_is_code_2_with_its_status(wa: WhatsAppEmulator) -> None:
    to = wa.world.add_user(in_window=True).wa_id
    wa.world.inject_fault("error", status=503)
    response = send(wa, text(to))
    assert response.status_code == 503
    assert error_of(response)["code"] == 2
    assert send(wa, text(to)).status_code == 200


# ----- statuses and users -------------------------------------------------------------------
def test_read_comes_only_with_read_receipts_and_once(wa: WhatsAppEmulator) -> None:
    reader = wa.world.add_user(in_window=True)
    private = wa.world.add_user(in_window=True)
    private.read_receipts = False
    first = send(wa, text(reader.wa_id)).json()["messages"][0]["id"]
    second = send(wa, text(private.wa_id)).json()["messages"][0]["id"]
    assert wa.world.read(reader.wa_id, first) is True
    assert wa.world.read(reader.wa_id, first) is False
    assert wa.world.read(private.wa_id, second) is False
    assert [s["status"] for s in statuses(wa, first)] == ["sent", "delivered", "read"]
    assert "pricing" in statuses(wa, first)[-1]
    assert [s["status"] for s in statuses(wa, second)] == ["sent", "delivered"]


def test_users_press_reply_buttons_and_quick_replies(wa: WhatsAppEmulator) -> None:
    user = wa.world.add_user("Budi", in_window=True)
    interactive = send(wa, buttons_message(user.wa_id, ["👍 Sudah Like", "🔁 Sudah Share"]))
    message_id = interactive.json()["messages"][0]["id"]
    pressed = wa.world.press(user.wa_id, message_id, "Share")
    assert pressed["type"] == "interactive"
    assert pressed["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "b1", "title": "🔁 Sudah Share"},
    }
    assert pressed["context"] == {"from": wa.world.display_phone_number, "id": message_id}
    with pytest.raises(ValueError):
        wa.world.press(user.wa_id, message_id, "Tidak ada")

    body = template(user.wa_id, "Dinas", "https://x.test/p", buttons=[quick(0, "g1:9:l")])
    answer = send(wa, body)
    assert answer.status_code == 200, answer.text
    template_id = answer.json()["messages"][0]["id"]
    tapped = wa.world.quick_reply(user.wa_id, template_id, "Like")
    assert tapped["type"] == "button"
    assert tapped["button"] == {"payload": "g1:9:l", "text": "👍 Sudah Like"}
    assert tapped["context"]["id"] == template_id
    bare = wa.world.quick_reply(user.wa_id, template_id, "Share", with_context=False)
    assert bare["button"]["payload"] == "🔁 Sudah Share"  # no payload given: the label
    assert "context" not in bare
    with pytest.raises(ValueError):
        wa.world.quick_reply(wa.world.add_user().wa_id, template_id, "Like")  # not theirs


# ----- webhooks -----------------------------------------------------------------------------
def test_webhooks_are_signed_over_the_exact_bytes_meta_sends(
    wa: WhatsAppEmulator, hook: Receiver
) -> None:
    user = wa.world.add_user("Ani Ü")
    wa.world.say(user.wa_id, "lihat https://instagram.com/p/x 👍")
    [received] = hook.wait_count(1)
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-hub-signature-256"] == expected
    assert b"\\/" in received.body and b"\\u00dc" in received.body  # escaped as Meta does
    again = json.dumps(json.loads(received.body)).encode()
    assert hmac.new(SECRET.encode(), again, hashlib.sha256).hexdigest() not in expected
    value = json.loads(received.body)["entry"][0]["changes"][0]["value"]
    assert value["contacts"] == [
        {"profile": {"name": "Ani Ü"}, "wa_id": user.wa_id, "user_id": user.user_id}
    ]
    message = value["messages"][0]
    assert message["type"] == "text"
    assert message["text"]["body"] == "lihat https://instagram.com/p/x 👍"
    assert message["timestamp"] == str(int(START))
    assert value["metadata"]["phone_number_id"] == wa.phone_id


def test_a_user_with_a_username_arrives_with_an_empty_wa_id(
    wa: WhatsAppEmulator, hook: Receiver
) -> None:
    user = wa.world.add_user("Nadia", username="nadia.asn", hide_phone=True)
    wa.world.say(user.user_id, "halo")
    [received] = hook.wait_count(1)
    value = json.loads(received.body)["entry"][0]["changes"][0]["value"]
    assert value["contacts"][0]["wa_id"] == ""
    assert value["contacts"][0]["user_id"] == user.user_id
    assert value["contacts"][0]["profile"]["username"] == "nadia.asn"
    assert value["messages"][0]["from"] == ""


def test_a_webhook_answered_other_than_200_is_redelivered_with_the_same_bytes(
    wa: WhatsAppEmulator, hook: Receiver
) -> None:
    hook.fail_next(2)
    wa.world.say(wa.world.add_user().wa_id, "halo")
    received = hook.wait_count(3)
    assert len({r.body for r in received}) == 1
    assert len({r.headers["x-hub-signature-256"] for r in received}) == 1
    wa.wait_for(lambda: wa.world.webhook.delivered == 1)
    assert wa.world.webhook.failures == 2


def test_webhooks_are_sometimes_delivered_twice(wa: WhatsAppEmulator, hook: Receiver) -> None:
    user = wa.world.add_user()
    wa.world.webhook.duplicates = 1
    wa.world.say(user.wa_id, "satu")
    wa.world.say(user.wa_id, "dua")
    received = hook.wait_count(3)
    texts = [
        json.loads(r.body)["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"]
        for r in received
    ]
    assert sorted(texts) == ["dua", "satu", "satu"]
    wa.world.set_limits(duplicate_rate=1.0)
    wa.world.say(user.wa_id, "tiga")
    hook.wait_count(5)


def test_the_verification_handshake(wa: WhatsAppEmulator, hook: Receiver) -> None:
    control = httpx.post(f"{wa.url}/_emulator/verify_webhook", json={}, timeout=10)
    assert control.json()["result"] is True
    wrong = httpx.post(
        f"{wa.url}/_emulator/verify_webhook", json={"verify_token": "salah"}, timeout=10
    )
    assert wrong.json()["result"] is False


def test_the_emulator_runs_as_a_process_driven_by_its_control_api() -> None:
    with Receiver() as hook:
        process = EmulatorProcess(webhook=hook.url, app_secret=SECRET, rate=2, messaging_limit=None)
        try:
            [user] = process.op("add_users", count=1)
            headers = {"Authorization": f"Bearer {process.token}"}
            url = f"{process.url}/v26.0/{process.phone_id}/messages"
            first = httpx.post(url, json={"messaging_product": "whatsapp", **text(user)},
                               headers=headers, timeout=10)  # fmt: skip
            assert first.status_code == 200  # accepted; fails later (no window)
            process.op("say", user=user, text="halo")
            # The emulator's time stands still from here: five sends within no time at all,
            # however slowly this machine makes them (at 2/s the bucket holds two).
            process.op("freeze_clock")
            codes = [
                httpx.post(url, json={"messaging_product": "whatsapp", **text(user)},
                           headers=headers, timeout=10)
                for _ in range(5)
            ]  # fmt: skip
            assert codes[0].status_code == 200  # inside the window now
            refused = [c.json().get("error", {}).get("code") for c in codes[1:]]
            assert refused == [130429] * 4  # 2/s, the first send took the other token
            assert {c.status_code for c in codes[1:]} == {429}
            [sent] = [m for m in process.op("messages", user=user) if m["error"] == 131047]
            assert sent["statuses"] == ["failed"]
            hook.wait_count(2)  # the failed status and the user's message, at least
            process.op("advance", seconds=WINDOW + 1)
            stats = process.op("stats")
            assert stats["failed"] == {"131047": 1}
            [other] = process.op("add_users", count=1)
            body = {"messaging_product": "whatsapp", **template(other, "a", "b")}
            process.op("advance", seconds=1)  # a full bucket again
            assert httpx.post(url, json=body, headers=headers, timeout=10).status_code == 200
            assert process.op("stats")["reached_today"] == 1
            assert process.op("stats")["messaging_limit"] is None  # "none": the unlimited tier
        finally:
            process.close()


def test_pywa_reads_every_event_the_emulator_sends() -> None:
    """An independent reader of Meta's format: pywa parses each event without a warning."""
    from pywa import WhatsApp, types

    world = World(Limits(pair_burst=100))
    client = WhatsApp(phone_id=world.phone_id, token="x")
    budi = world.add_user("Budi", in_window=True)
    nadia = world.add_user("Nadia", username="nadia", hide_phone=True, in_window=True)
    tracked = {"biz_opaque_callback_data": "g1:1"}
    first = world.send({"messaging_product": "whatsapp", **buttons_message(budi.wa_id, ["Like"]),
                        **tracked})["messages"][0]["id"]  # fmt: skip
    world.press(budi.wa_id, first, "Like")
    body = template(budi.wa_id, "a", "b", buttons=[quick(1, "g1:1:s")])
    second = world.send({"messaging_product": "whatsapp", **body})["messages"][0]["id"]
    world.quick_reply(budi.wa_id, second, "Share")
    world.say(nadia.user_id, "halo")
    world.send({"messaging_product": "whatsapp", **text("6289")})
    world.read(budi.wa_id, first)
    seen = []
    for event in world.events:
        value = event["entry"][0]["changes"][0]["value"]
        if "statuses" in value:
            status = types.MessageStatus.from_update(client, event)
            seen.append((status.status.value, status.from_user.bsuid, status.tracker))
        elif value["messages"][0]["type"] == "text":
            message = types.Message.from_update(client, event)
            assert message.from_user.wa_id is None and message.from_user.username == "nadia"
            seen.append(("text", message.from_user.bsuid, message.text))
        else:
            button = types.CallbackButton.from_update(client, event)
            assert button.reply_to_message is not None
            seen.append(("button", button.from_user.bsuid, button.data))
    assert seen == [
        ("sent", budi.user_id, "g1:1"),
        ("delivered", budi.user_id, "g1:1"),
        ("button", budi.user_id, "b0"),
        ("sent", budi.user_id, None),
        ("delivered", budi.user_id, None),
        ("button", budi.user_id, "g1:1:s"),
        ("text", nadia.user_id, "halo"),
        ("failed", "ID.6289", None),
        ("read", budi.user_id, "g1:1"),
    ]
