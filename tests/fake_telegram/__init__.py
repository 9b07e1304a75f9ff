"""A fake Telegram Bot API server for tests and benchmarks.

``FakeTelegram`` serves the Bot API over real HTTP (aiohttp) so the real
python-telegram-bot talks to it unmodified; tests narrate users' actions
through ``FakeUser`` / ``FakeGroup`` and read what each chat received.
"""

from .errors import ApiError
from .faults import FaultRule, Faults, Storm
from .limits import Limits, ManualClock, SendLimiter, SlidingWindow, TokenBucket
from .server import FakeTelegram
from .state import ChatRecord, FileRecord, RecordedMessage, RequestRecord, Stats, UserRecord
from .users import FakeGroup, FakeUser
from .world import CallbackAnswer

__all__ = [
    "ApiError",
    "CallbackAnswer",
    "ChatRecord",
    "FakeGroup",
    "FakeTelegram",
    "FakeUser",
    "FaultRule",
    "Faults",
    "FileRecord",
    "Limits",
    "ManualClock",
    "RecordedMessage",
    "RequestRecord",
    "SendLimiter",
    "SlidingWindow",
    "Stats",
    "Storm",
    "TokenBucket",
    "UserRecord",
]
