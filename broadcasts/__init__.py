"""A durable, rate-limited broadcast engine for chat bots.

Write a broadcast and its delivery rows in your own transaction
(``enqueue_broadcast``), run one ``Dispatcher`` per process with a ``Sender`` for your
platform and one shared ``Limiter``, and read ``broadcast_report`` afterwards. The
engine knows recipients only as chat ids and imports no chat library.
"""

from broadcasts.content import OutgoingMessage, content_from_json, content_to_json, pick
from broadcasts.dispatcher import Dispatcher, SentEvent
from broadcasts.enqueue import cancel_broadcast, enqueue_broadcast
from broadcasts.limits import Limiter, Limits
from broadcasts.models import (
    Base,
    Broadcast,
    BroadcastStatus,
    ChatState,
    Delivery,
    DeliveryStatus,
    Priority,
)
from broadcasts.reports import Report, broadcast_report, recent_broadcasts
from broadcasts.retry import Action, Decision, RetryPolicy, decide
from broadcasts.sender import (
    Migrated,
    PermanentError,
    RetryAfter,
    Sender,
    SendError,
    TransientError,
    Unreachable,
)
from broadcasts.split import CAPTION_LIMIT, TEXT_LIMIT, split_caption, split_message, split_text

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "Action",
    "Base",
    "Broadcast",
    "BroadcastStatus",
    "ChatState",
    "Decision",
    "Delivery",
    "DeliveryStatus",
    "Dispatcher",
    "Limiter",
    "Limits",
    "Migrated",
    "OutgoingMessage",
    "PermanentError",
    "Priority",
    "Report",
    "RetryAfter",
    "RetryPolicy",
    "SendError",
    "Sender",
    "SentEvent",
    "TransientError",
    "Unreachable",
    "broadcast_report",
    "cancel_broadcast",
    "content_from_json",
    "content_to_json",
    "decide",
    "enqueue_broadcast",
    "pick",
    "recent_broadcasts",
    "split_caption",
    "split_message",
    "split_text",
]
