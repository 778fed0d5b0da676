"""The Telegram bot (python-telegram-bot 22): registration, confirmations, admin flows."""
