"""Bot API errors with Telegram's own codes and wordings.

Handlers raise :class:`ApiError`; the server turns it into Telegram's error
envelope (``{"ok": false, "error_code": N, "description": ..., "parameters": ...}``)
with the HTTP status equal to ``error_code``, because python-telegram-bot picks
its exception class from the HTTP status and the ``parameters`` object.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refusal exactly as the Bot API would word it."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def envelope(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str, parameters: dict[str, Any] | None = None) -> ApiError:
    """400 with the ``Bad Request: `` prefix Telegram always adds."""
    return ApiError(400, f"Bad Request: {what}", parameters)


def forbidden(what: str) -> ApiError:
    """403 with the ``Forbidden: `` prefix (blocked, kicked, never started...)."""
    return ApiError(403, f"Forbidden: {what}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 flood wait; PTB raises ``RetryAfter`` from ``parameters.retry_after``."""
    retry_after = max(1, int(retry_after))
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def server_error(status: int = 500) -> ApiError:
    """5xx: Telegram's rare internal failures (PTB maps them to ``NetworkError``)."""
    text = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return ApiError(status, text.get(status, "Internal Server Error"))


MESSAGE_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
GET_UPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
