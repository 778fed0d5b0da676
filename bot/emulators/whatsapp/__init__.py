"""An emulator of Meta's WhatsApp Cloud API: ``WhatsAppEmulator`` runs one on a local port."""

from bot.emulators.whatsapp.limits import Limits, OffsetClock
from bot.emulators.whatsapp.payloads import ApiError, Template, TemplateButton
from bot.emulators.whatsapp.runner import EmulatorProcess, WhatsAppEmulator
from bot.emulators.whatsapp.world import World

__all__ = [
    "ApiError",
    "EmulatorProcess",
    "Limits",
    "OffsetClock",
    "Template",
    "TemplateButton",
    "WhatsAppEmulator",
    "World",
]
