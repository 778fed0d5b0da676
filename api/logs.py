"""Logging for the ``gaung`` processes: plain text for people, or one JSON object a line
(``GAUNG_LOG_FORMAT=json``) for a log collector.

What Gaung logs never names a person: no phone, NIP, name, bot token or raw chat update.
The code logs ids, and the engine hides statement parameters (``db.engine``); as a last guard
this formatter masks anything in a finished line, traceback included, that looks like a bot
token, an 18-digit NIP or an Indonesian phone number, because an exception from a library
(an HTTP error naming the Bot API URL, with its token) can carry one.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from db.settings import Settings

# A bot token (digits:35 characters), a bot API path carrying one, an 18-digit NIP, and a
# phone number in any of the forms people write (+62 812-3456-7890, 0812…, 62812…).
_SECRETS = re.compile(
    r"\d{5,12}:[A-Za-z0-9_-]{30,}"
    r"|(?<!\d)\d{18}(?!\d)"
    r"|(?<![\w+])(?:\+?62|0)[\s-]?8\d{1,3}(?:[\s-]?\d{2,5}){2,3}(?!\d)"
)
MASK = "[disamarkan]"


def scrub(text: str) -> str:
    return _SECRETS.sub(MASK, text)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One object a line: time (UTC), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Route every logger (uvicorn's, python-telegram-bot's, httpx's, ours) through one
    handler on stderr in the chosen format."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request line at INFO, and a Bot API URL holds the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
