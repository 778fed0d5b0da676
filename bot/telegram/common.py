"""What every handler needs: the database from ``bot_data``, run off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session
from telegram.ext import ContextTypes

from db.engine import session_scope
from db.models import Channel
from db.settings import Settings

T = TypeVar("T")
CHANNEL = Channel.TELEGRAM.value
Context = ContextTypes.DEFAULT_TYPE


def engine_of(context: Context) -> Engine:
    engine: Engine = context.bot_data["engine"]
    return engine


def settings_of(context: Context) -> Settings:
    settings: Settings = context.bot_data["settings"]
    return settings


async def in_db(context: Context, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction, in a thread: SQLAlchemy here is synchronous."""
    engine = engine_of(context)

    def run() -> T:
        with session_scope(engine) as session:
            return work(session)

    return await asyncio.to_thread(run)
