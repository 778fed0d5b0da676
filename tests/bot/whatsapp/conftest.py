"""WhatsApp-side fixtures: the session's emulator with a fresh world for each test."""

from __future__ import annotations

import pytest

from bot.emulators.whatsapp import Limits, WhatsAppEmulator


@pytest.fixture
def wa(wa_server: WhatsAppEmulator) -> WhatsAppEmulator:
    """The session's emulator with a fresh world (generous limits) for this test."""
    wa_server.reset(Limits(rate=1000, pair_burst=100))
    return wa_server
