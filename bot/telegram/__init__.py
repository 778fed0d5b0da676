"""The Telegram bot (python-telegram-bot 22): registration, confirmations, admin flows."""

import os

# PTB 22 announces that durations become timedeltas and warns on every flood wait until one
# opts in; its documented opt-in is this variable, read when a duration is accessed.
os.environ.setdefault("PTB_TIMEDELTA", "true")
