"""An emulator of Telegram's Bot API: ``TelegramEmulator`` runs one on a local port."""

from bot.emulators.telegram.runner import EmulatorProcess, TelegramEmulator
from bot.emulators.telegram.world import ApiError, Limits, World

__all__ = ["ApiError", "EmulatorProcess", "Limits", "TelegramEmulator", "World"]
