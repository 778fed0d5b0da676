"""``python -m bot.emulators.telegram``: serve an emulated Bot API for benchmarks and demos."""

from __future__ import annotations

import argparse

import uvicorn

from bot.emulators.pauses import keep_collections_short
from bot.emulators.telegram.server import create_app
from bot.emulators.telegram.world import World


def main() -> None:
    parser = argparse.ArgumentParser(description="Emulated Telegram Bot API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", action="append", default=[], help="a bot token to accept")
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        help="name=value, e.g. rate=30, shape=sliding|bucket|fixed, penalty=growing|none",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="accept http:// webhooks on any port of this machine (the Bot API server's --local)",
    )
    args = parser.parse_args()
    keep_collections_short()
    world = World()
    world.local_webhooks = args.local
    if args.limit:
        pairs = (item.split("=", 1) for item in args.limit)
        world.set_limits(**{k: v if k in ("shape", "penalty") else float(v) for k, v in pairs})
    for token in args.token or ["123456:TEST-TOKEN"]:
        world.add_bot(token)
    uvicorn.run(
        create_app(world), host=args.host, port=args.port, log_level="warning", backlog=4096
    )


if __name__ == "__main__":
    main()
