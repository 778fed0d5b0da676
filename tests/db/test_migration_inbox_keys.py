"""Migration 0025: WhatsApp inbox keys stored before it become the digests the webhook now
writes, on both engines; Telegram's stay."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from bot.whatsapp.webhook import inbox_key
from db.migrate import alembic_config, upgrade

WAMID = "wamid.HBgLNjI4MTIzNDU2Nzg5FQIAERgSQjE2RkFFMDc2QTg2QTcxNEE4AA=="  # names +62 812…


def test_raw_whatsapp_message_ids_become_the_webhooks_digests(engine: Engine) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    before = scripts.get_revision("0025").down_revision  # re-chained at merge: ask
    assert isinstance(before, str)
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, before)
    rows = [
        ("whatsapp", WAMID),
        ("whatsapp", f"s:{WAMID}:delivered"),
        ("whatsapp", f"s:{WAMID}:read"),
        ("whatsapp", inbox_key("wamid.already")),  # stored by the new code: left alone
        ("telegram", "123456789"),
    ]
    with engine.begin() as connection:
        for channel, key in rows:
            connection.execute(
                text(
                    "INSERT INTO processed_update (channel, update_id, at) "
                    "VALUES (:channel, :key, '2026-12-01 00:00:00')"
                ),
                {"channel": channel, "key": key},
            )
        many = [{"key": f"s:wamid.{n}:sent"} for n in range(12_000)]  # several batches
        connection.execute(
            text(
                "INSERT INTO processed_update (channel, update_id, at) "
                "VALUES ('whatsapp', :key, '2026-12-01 00:00:00')"
            ),
            many,
        )
    upgrade(engine)
    with engine.connect() as connection:
        keys = set(connection.execute(text("SELECT channel, update_id FROM processed_update")))
    sent = {("whatsapp", f"s:{inbox_key(f'wamid.{n}')}:sent") for n in range(12_000)}
    assert sent <= keys
    keys -= sent
    digest = inbox_key(WAMID)
    assert keys == {
        ("whatsapp", digest),
        ("whatsapp", f"s:{digest}:delivered"),
        ("whatsapp", f"s:{digest}:read"),
        ("whatsapp", inbox_key("wamid.already")),
        ("telegram", "123456789"),
    }
    assert not any("wamid" in key for _, key in keys)
