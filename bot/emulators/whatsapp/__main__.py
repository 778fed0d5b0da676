"""``python -m bot.emulators.whatsapp``: serve an emulated Cloud API for benchmarks and demos."""

from __future__ import annotations

import argparse

import uvicorn

from bot.emulators.pauses import keep_collections_short
from bot.emulators.whatsapp.limits import Limits
from bot.emulators.whatsapp.server import create_app
from bot.emulators.whatsapp.world import World


def _value(text: str) -> float | int | str | None:
    if text.lower() in ("none", "unlimited"):
        return None
    if text.isalpha():  # a name: the limiter's shape
        return text
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def main() -> None:
    parser = argparse.ArgumentParser(description="Emulated WhatsApp Cloud API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--token", default="EAAG-TEST-TOKEN", help="the access token to accept")
    parser.add_argument("--phone-id", default="106540352242922")
    parser.add_argument("--webhook", help="where to POST events")
    parser.add_argument("--app-secret", default="", help="signs the webhooks")
    parser.add_argument("--verify-token", default="")
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        help="name=value, e.g. rate=80, shape=bucket|sliding|fixed, messaging_limit=none",
    )
    args = parser.parse_args()
    keep_collections_short()
    limits = Limits()
    for item in args.limit:
        name, value = item.split("=", 1)
        if not hasattr(limits, name):
            parser.error(f"unknown limit {name}")
        setattr(limits, name, _value(value))
    world = World(limits, token=args.token, phone_id=args.phone_id)
    if args.webhook:
        world.set_webhook(args.webhook, app_secret=args.app_secret, verify_token=args.verify_token)
    uvicorn.run(
        create_app(world), host=args.host, port=args.port, log_level="warning", backlog=4096
    )


if __name__ == "__main__":
    main()
