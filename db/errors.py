"""One small error tree for domain code.

Each error carries the HTTP status it means, so the API maps it with one handler, the CLI prints
its message on one line, and the bot answers it in Indonesian. Messages are Indonesian because
they reach operators and admins as they are.
"""

from __future__ import annotations


class GaungError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(GaungError):
    status_code = 422


class NotFound(GaungError):
    status_code = 404


class Conflict(GaungError):
    status_code = 409


class Forbidden(GaungError):
    status_code = 403
