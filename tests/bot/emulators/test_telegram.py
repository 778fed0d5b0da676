"""The Telegram emulator answers as the Bot API documents, through raw HTTP and through PTB."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.emulators.telegram import Limits, TelegramEmulator
from bot.emulators.telegram.runner import EmulatorProcess
from bot.emulators.telegram.world import ApiError, World
from bot.emulators.telegram.world import Bot as EmulatedBot
from bot.emulators.thread import free_port
from bot.telegram.ratelimit import retry_seconds


@pytest.fixture
def tg() -> Iterator[TelegramEmulator]:
    with TelegramEmulator(Limits(rate=1000, burst=1000, chat_burst=100)) as emulator:
        yield emulator


def call(tg: TelegramEmulator, method: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{tg.url}/bot{tg.token}/{method}", timeout=10, **kwargs)


def test_parameters_arrive_in_every_encoding_telegram_accepts(tg: TelegramEmulator) -> None:
    user = tg.world.add_user("Sari", started=True)
    markup = {"inline_keyboard": [[{"text": "Like", "callback_data": "g1:1:l"}]]}
    as_json = call(
        tg, "sendMessage", json={"chat_id": user.id, "text": "a", "reply_markup": markup}
    )
    as_form = call(
        tg,
        "sendMessage",
        data={"chat_id": str(user.id), "text": "b", "reply_markup": json.dumps(markup)},
    )
    as_query = httpx.get(f"{tg.url}/bot{tg.token}/sendMessage?chat_id={user.id}&text=c", timeout=5)
    as_multipart = call(
        tg, "sendPhoto", data={"chat_id": str(user.id), "caption": "d"}, files={"photo": b"x"}
    )
    for response in (as_json, as_form, as_query, as_multipart):
        assert response.status_code == 200, response.text
        assert response.json()["ok"] is True
    ids = [r.json()["result"]["message_id"] for r in (as_json, as_form, as_query, as_multipart)]
    assert ids == [1, 2, 3, 4]  # message ids count per chat
    sent = tg.world.messages(user.id)
    assert [m.text for m in sent] == ["a", "b", "c", "d"]
    assert sent[1].data["reply_markup"] == markup


def test_errors_have_telegrams_shape_and_status(tg: TelegramEmulator) -> None:
    blocked = tg.world.add_user("A", started=True)
    tg.world.block(blocked.id)
    gone = tg.world.add_user("B", started=True)
    tg.world.deactivate(gone.id)
    stranger = tg.world.add_user("C")  # never pressed Start
    ok = tg.world.add_user("D", started=True)
    cases = [
        (blocked.id, "x", 403, "Forbidden: bot was blocked by the user"),
        (gone.id, "x", 403, "Forbidden: user is deactivated"),
        (stranger.id, "x", 403, "Forbidden: bot can't initiate conversation with a user"),
        (999, "x", 400, "Bad Request: chat not found"),
        (ok.id, "x" * 4097, 400, "Bad Request: message is too long"),
        (ok.id, "", 400, "Bad Request: message text is empty"),
    ]
    for chat_id, text, status, description in cases:
        response = call(tg, "sendMessage", json={"chat_id": chat_id, "text": text})
        assert response.status_code == status
        assert response.json() == {"ok": False, "error_code": status, "description": description}
    too_long_data = {"inline_keyboard": [[{"text": "L", "callback_data": "x" * 65}]]}
    response = call(
        tg, "sendMessage", json={"chat_id": ok.id, "text": "t", "reply_markup": too_long_data}
    )
    assert response.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"
    bad_html = call(
        tg, "sendMessage", json={"chat_id": ok.id, "text": "<b>x", "parse_mode": "HTML"}
    )
    assert bad_html.status_code == 400
    assert "can't parse entities" in bad_html.json()["description"]
    assert httpx.post(f"{tg.url}/botWRONG/getMe").status_code == 401
    assert call(tg, "noSuchMethod").json()["description"] == "Not Found: method not found"
    assert tg.world.messages(ok.id) == []


def test_html_is_rendered_to_what_the_user_reads(tg: TelegramEmulator) -> None:
    user = tg.world.add_user("E", started=True)
    text = "<b>Unggahan baru</b> dari Dinas &amp; Kesehatan"
    call(tg, "sendMessage", json={"chat_id": user.id, "text": text, "parse_mode": "HTML"})
    message = tg.world.messages(user.id)[0]
    assert message.text == "Unggahan baru dari Dinas & Kesehatan"
    assert message.html == text


def test_rate_limit_answers_429_and_punishes_sending_on() -> None:
    with TelegramEmulator(Limits(rate=5, burst=5, chat_burst=100)) as tg:
        # The emulator's clock stands still unless the test moves it: on a slow machine eight
        # sends at 5/s took long enough for the limit to let one more through.
        now = [100.0]
        tg.world.clock = lambda: now[0]
        users = [tg.world.add_user(f"U{i}", started=True) for i in range(12)]
        statuses = []
        for user in users[:8]:
            response = call(tg, "sendMessage", json={"chat_id": user.id, "text": "hi"})
            statuses.append(response.status_code)
        assert statuses[:5] == [200] * 5
        assert set(statuses[5:]) == {429}
        first = call(tg, "sendMessage", json={"chat_id": users[8].id, "text": "hi"}).json()
        second = call(tg, "sendMessage", json={"chat_id": users[9].id, "text": "hi"}).json()
        assert first["parameters"]["retry_after"] >= 1
        assert second["parameters"]["retry_after"] >= first["parameters"]["retry_after"]
        assert second["description"].startswith("Too Many Requests: retry after ")
        wait = second["parameters"]["retry_after"]
        now[0] += wait - 0.05
        late = call(tg, "sendMessage", json={"chat_id": users[11].id, "text": "x"})
        assert late.status_code == 429  # the wait is not over yet
        now[0] = 100.0 + wait + 2.0  # past that one's penalty too
        assert (
            call(tg, "sendMessage", json={"chat_id": users[10].id, "text": "ok"}).status_code == 200
        )


def test_per_chat_limit_and_paid_broadcast() -> None:
    with TelegramEmulator(Limits(rate=2, burst=2, chat_rate=1, chat_burst=1)) as tg:
        tg.world.clock = lambda: 100.0  # no refill between the sends, however slow the machine
        a, *others = (tg.world.add_user(f"u{n}", started=True) for n in range(5))
        assert call(tg, "sendMessage", json={"chat_id": a.id, "text": "1"}).status_code == 200
        again = call(tg, "sendMessage", json={"chat_id": a.id, "text": "2"})
        assert again.status_code == 429  # one chat, too fast
        paid = {"allow_paid_broadcast": True, "text": "p"}
        statuses = [
            call(tg, "sendMessage", json={"chat_id": u.id, **paid}).status_code for u in others
        ]
        assert statuses == [200] * 4  # beyond the free 2/s: paid broadcast has its own rate
        free = call(tg, "sendMessage", json={"chat_id": others[0].id, "text": "x"})
        assert free.status_code == 429


def test_edits_callbacks_and_not_modified(tg: TelegramEmulator) -> None:
    user = tg.world.add_user("F", started=True)
    markup = {"inline_keyboard": [[{"text": "👍 Like", "callback_data": "g1:5:l"}]]}
    sent = call(
        tg, "sendMessage", json={"chat_id": user.id, "text": "post", "reply_markup": markup}
    )
    message_id = sent.json()["result"]["message_id"]
    query_id = tg.world.press_label(user.id, message_id, "Like")
    with pytest.raises(ValueError):
        tg.world.press(user.id, message_id, "g1:6:l")  # no such button on a real client
    forged = tg.world.press(user.id, message_id, "g1:6:l", forged=True)
    assert forged != query_id
    assert call(tg, "answerCallbackQuery", json={"callback_query_id": query_id}).json()["ok"]
    again = call(tg, "answerCallbackQuery", json={"callback_query_id": query_id})
    assert "query is too old" in again.json()["description"]
    same = call(
        tg,
        "editMessageReplyMarkup",
        json={"chat_id": user.id, "message_id": message_id, "reply_markup": markup},
    )
    assert same.status_code == 400
    assert "message is not modified" in same.json()["description"]
    changed = {"inline_keyboard": [[{"text": "✅ Like", "callback_data": "g1:5:l"}]]}
    edited = call(
        tg,
        "editMessageReplyMarkup",
        json={"chat_id": user.id, "message_id": message_id, "reply_markup": changed},
    )
    assert edited.json()["result"]["reply_markup"] == changed
    assert tg.world.messages(user.id)[0].edits == 1
    missing = call(tg, "editMessageText", json={"chat_id": user.id, "message_id": 99, "text": "x"})
    assert missing.json()["description"] == "Bad Request: message to edit not found"


def test_callback_queries_expire() -> None:
    with TelegramEmulator(Limits(callback_timeout=0.05)) as tg:
        user = tg.world.add_user("G", started=True)
        markup = {"inline_keyboard": [[{"text": "Share", "callback_data": "g1:1:s"}]]}
        call(tg, "sendMessage", json={"chat_id": user.id, "text": "p", "reply_markup": markup})
        query_id = tg.world.press(user.id, 1, "g1:1:s")
        time.sleep(0.1)
        late = call(tg, "answerCallbackQuery", json={"callback_query_id": query_id})
        assert late.status_code == 400


def test_long_polling_returns_updates_as_they_happen(tg: TelegramEmulator) -> None:
    user = tg.world.add_user("H", phone="6281234567890")
    empty = call(tg, "getUpdates", json={"timeout": 0})
    assert empty.json()["result"] == []

    def later() -> None:
        time.sleep(0.2)
        tg.world.say(user.id, "/start")
        tg.world.share_contact(user.id)

    import threading

    threading.Thread(target=later).start()
    started = time.monotonic()
    got = call(tg, "getUpdates", json={"timeout": 5}).json()["result"]
    assert 0.15 < time.monotonic() - started < 4
    assert got[0]["message"]["text"] == "/start"
    assert got[0]["message"]["entities"][0]["type"] == "bot_command"
    tg.wait_for(lambda: len(tg.bot.updates) == 2)
    both = call(tg, "getUpdates", json={"offset": got[0]["update_id"]}).json()["result"]
    contact = both[1]["message"]["contact"]
    assert contact == {"phone_number": "6281234567890", "first_name": "H", "user_id": user.id}
    confirmed = call(tg, "getUpdates", json={"offset": both[1]["update_id"] + 1}).json()
    assert confirmed["result"] == []
    assert user.started


def test_blocking_sends_my_chat_member_and_writing_again_unblocks(tg: TelegramEmulator) -> None:
    user = tg.world.add_user("I", started=True)
    tg.world.block(user.id)
    tg.world.say(user.id, "/start")
    kinds = [
        (u.get("my_chat_member") or {}).get("new_chat_member", {}).get("status")
        for u in tg.bot.updates
    ]
    assert kinds == ["kicked", "member", None]
    assert call(tg, "sendMessage", json={"chat_id": user.id, "text": "x"}).status_code == 200


def test_faults_error_slow_and_dropped(tg: TelegramEmulator) -> None:
    user = tg.world.add_user("J", started=True)
    body = {"chat_id": user.id, "text": "x"}
    tg.world.inject_fault("error", status=502, methods=["sendMessage"])
    assert call(tg, "sendMessage", json=body).status_code == 502
    tg.world.inject_fault("slow", delay=0.3)
    started = time.monotonic()
    assert call(tg, "sendMessage", json=body).status_code == 200
    assert time.monotonic() - started >= 0.3
    tg.world.inject_fault("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        call(tg, "sendMessage", json=body)
    tg.world.inject_fault("lost")
    with pytest.raises(httpx.RemoteProtocolError):
        call(tg, "sendMessage", json=body)
    assert len(tg.world.messages(user.id)) == 2  # the slow one and the lost one


def test_webhooks_carry_the_secret_retry_and_conflict_with_polling() -> None:
    received: list[dict[str, Any]] = []
    failures = {"left": 2}

    async def hook(request: Request) -> JSONResponse:
        if request.headers.get("x-telegram-bot-api-secret-token") != "s3cret":
            return JSONResponse({}, status_code=403)
        if failures["left"]:
            failures["left"] -= 1
            return JSONResponse({}, status_code=500)
        received.append(await request.json())
        return JSONResponse({})

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/h", hook, methods=["POST"])]), port=port, log_level="critical"
        )
    )
    import threading

    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with TelegramEmulator(Limits(webhook_retry_base=0.05), local_webhooks=True) as tg:
            while not server.started:
                time.sleep(0.01)
            user = tg.world.add_user("K")
            set_hook = call(
                tg,
                "setWebhook",
                json={"url": f"http://127.0.0.1:{port}/h", "secret_token": "s3cret"},
            )
            assert set_hook.json()["result"] is True
            bad = call(tg, "setWebhook", json={"url": "http://x/h", "secret_token": "no spaces"})
            assert bad.status_code == 400
            assert call(tg, "getUpdates").status_code == 409
            tg.world.say(user.id, "halo")
            tg.wait_for(lambda: len(received) == 1, timeout=5)
            info = call(tg, "getWebhookInfo").json()["result"]
            assert info["pending_update_count"] == 0
            assert "500" in info["last_error_message"]
            tg.bot.webhook.duplicates = 1
            tg.world.say(user.id, "lagi")
            tg.wait_for(lambda: len(received) == 3, timeout=5)
            assert received[1] == received[2]  # Telegram may deliver an update twice
    finally:
        server.should_exit = True
        thread.join(5)


def test_python_telegram_bot_sees_the_exceptions_it_expects(tg: TelegramEmulator) -> None:
    blocked = tg.world.add_user("L", started=True)
    tg.world.block(blocked.id)
    ok = tg.world.add_user("M", started=True)

    async def scenario() -> None:
        bot = Bot(tg.token, base_url=f"{tg.url}/bot")
        async with bot:
            me = await bot.get_me()
            assert me.is_bot and me.username == "gaung_bot"
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton("👍 Like", callback_data="g1:1:l")]]
            )
            sent = await bot.send_message(
                ok.id, "<b>halo</b>", parse_mode="HTML", reply_markup=markup
            )
            assert sent.text == "halo" and sent.message_id == 1
            with pytest.raises(Forbidden, match="blocked"):
                await bot.send_message(blocked.id, "x")
            with pytest.raises(BadRequest, match=r"(?i)chat not found"):
                await bot.send_message(12345, "x")
            with pytest.raises(BadRequest, match=r"(?i)not modified"):
                await bot.edit_message_reply_markup(ok.id, 1, reply_markup=markup)
            tg.world.set_limits(rate=1, burst=1, chat_burst=100)
            await bot.send_message(ok.id, "a")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(ok.id, "b")
            assert retry_seconds(caught.value) >= 1
            await bot.set_my_commands([("status", "Status pendaftaran")])
            assert tg.bot.commands == [{"command": "status", "description": "Status pendaftaran"}]

    asyncio.run(scenario())


def test_the_emulator_runs_as_its_own_process() -> None:
    process = EmulatorProcess(rate=50)
    try:
        [user_id] = process.op("add_users", count=1)
        response = httpx.post(
            f"{process.url}/bot{process.token}/sendMessage", json={"chat_id": user_id, "text": "x"}
        )
        assert response.json()["ok"]
        assert process.op("stats")["messages"] == 1
        assert process.op("delivered_counts") == {str(user_id): 1}
    finally:
        process.close()


@pytest.mark.parametrize("local", [False, True])
def test_set_webhook_wants_https_on_telegrams_ports_unless_local_on_this_machine(
    local: bool,
) -> None:
    with TelegramEmulator(local_webhooks=local) as tg:

        def set_hook(url: str) -> httpx.Response:
            return call(tg, "setWebhook", json={"url": url})

        for url in ("https://gaung.example.id/w", "https://gaung.example.id:8443/w"):
            assert set_hook(url).json()["result"] is True
            assert tg.bot.webhook.url == url
        for port in (443, 80, 88, 8443):
            assert set_hook(f"https://gaung.example.id:{port}/w").status_code == 200
        wrong_port = set_hook("https://gaung.example.id:8000/w")
        assert wrong_port.status_code == 400
        assert wrong_port.json()["description"] == (
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
        )
        plain = set_hook("http://gaung.example.id/w")  # not this machine: refused even if local
        assert plain.status_code == 400
        assert plain.json()["description"] == (
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
        )
        loopback = set_hook("http://127.0.0.1:8123/webhook/telegram")
        assert loopback.status_code == (200 if local else 400)
        expected = (
            "http://127.0.0.1:8123/webhook/telegram" if local else "https://gaung.example.id:8443/w"
        )
        assert tg.bot.webhook.url == expected  # a refused URL leaves the webhook as it was


def test_editing_a_message_of_someone_who_blocked_the_bot_is_forbidden() -> None:
    with TelegramEmulator() as tg:
        user = tg.world.add_user("N", started=True)
        markup = {"inline_keyboard": [[{"text": "👍 Like", "callback_data": "g1:1:l"}]]}
        body = {"chat_id": user.id, "text": "post", "reply_markup": markup}
        assert call(tg, "sendMessage", json=body).status_code == 200
        tg.world.block(user.id)
        changed = {"inline_keyboard": [[{"text": "✅ Like", "callback_data": "g1:1:l"}]]}
        target = {"chat_id": user.id, "message_id": 1}
        for method, extra in (
            ("editMessageReplyMarkup", {"reply_markup": changed}),
            ("editMessageText", {"text": "baru"}),
        ):
            refused = call(tg, method, json={**target, **extra})
            assert refused.status_code == 403, method
            assert refused.json()["description"] == "Forbidden: bot was blocked by the user"
        assert tg.world.messages(user.id)[0].edits == 0

        async def through_ptb() -> None:
            async with Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
                with pytest.raises(Forbidden, match="blocked"):
                    await bot.edit_message_text("baru", chat_id=user.id, message_id=1)

        asyncio.run(through_ptb())


def test_answer_callback_query_after_the_deadline_is_too_old_default_ten_seconds() -> None:
    with TelegramEmulator() as tg:
        now = [1000.0]
        tg.world.clock = lambda: now[0]  # the emulator's time, driven by the test
        user = tg.world.add_user("O", started=True)
        markup = {"inline_keyboard": [[{"text": "👍 Like", "callback_data": "g1:1:l"}]]}
        call(tg, "sendMessage", json={"chat_id": user.id, "text": "p", "reply_markup": markup})
        in_time = tg.world.press(user.id, 1, "g1:1:l")
        late = tg.world.press(user.id, 1, "g1:1:l")
        now[0] += 9.9
        answer = call(tg, "answerCallbackQuery", json={"callback_query_id": in_time})
        assert answer.json() == {"ok": True, "result": True}
        now[0] += 0.2  # 10.1 s after the press
        refused = call(tg, "answerCallbackQuery", json={"callback_query_id": late})
        assert refused.status_code == 400
        assert refused.json()["description"] == (
            "Bad Request: query is too old and response timeout expired or query ID is invalid"
        )
        assert not tg.bot.queries[late].answered


def _burst(world: World, bot: EmulatedBot, at: float, count: int) -> list[int]:
    """``count`` sends at moment ``at`` (distinct chats): the status of each."""
    statuses = []
    world.clock = lambda: at  # the injected clock: every send happens at ``at``
    for n in range(count):
        try:
            world.charge(bot, 10_000 + n, paid=False)
            statuses.append(200)
        except ApiError as exc:
            statuses.append(exc.code)
    return statuses


def test_limiter_shapes_are_assumptions_with_their_own_counting() -> None:
    """At 10/s: 10 at t=0.95, then 10 more at t=1.05. A fixed clock second lets the second ten
    through (a new second began), a sliding window refuses them (20 in 0.1 s), and a bucket of
    10 lets one through (0.1 s refilled one token)."""
    outcomes = {}
    for shape in ("fixed", "sliding", "bucket"):
        world = World(Limits(rate=10, burst=10, shape=shape, penalty="none", chat_burst=5))
        bot = world.add_bot("1:T")
        first = _burst(world, bot, 0.95, 10)
        bot.flood_until = 0.0  # only the counting is compared here, not the penalty
        outcomes[shape] = (first.count(200), _burst(world, bot, 1.05, 10).count(200))
    assert outcomes == {"fixed": (10, 10), "sliding": (10, 0), "bucket": (10, 1)}


def test_the_penalty_rule_grows_the_wait_or_leaves_it() -> None:
    waits = {}
    for penalty in ("growing", "none"):
        world = World(Limits(rate=2, shape="sliding", penalty=penalty, flood_penalty=1.0))
        bot = world.add_bot("1:T")
        _burst(world, bot, 0.0, 3)  # the third is refused: a flood wait of 1 s begins
        _burst(world, bot, 0.5, 3)  # sending on during the wait
        waits[penalty] = bot.flood_until
    assert waits == {"growing": 4.0, "none": 1.0}


def test_an_unknown_shape_or_penalty_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        Limits(shape="leaky")
    world = World()
    with pytest.raises(ValueError, match="penalty"):
        world.set_limits(penalty="sometimes")
