"""Flood limits as token buckets — the exact model the bot's own limiter mirrors.

Telegram does not publish its limits; the FAQ says "about 30 messages per
second overall, about one per second in a chat (short bursts tolerated), 20
per minute in a group". The fake makes that precise so a client-side limiter
can be checked against it:

* **overall** bucket per bot: capacity ``overall_per_s`` tokens, refilled at
  ``overall_per_s`` tokens per second (continuously).
* **private chat** bucket per chat: capacity ``chat_burst`` tokens, refilled at
  ``chat_per_s`` tokens per second.
* **group / supergroup** bucket per chat: capacity ``group_per_min`` tokens,
  refilled at ``group_per_min`` tokens per 60 seconds.
* **in flight**: at most ``max_in_flight`` requests (any method except
  getUpdates) being processed at once; the next one gets 429 retry after 1.

Counted methods are every ``send*``, ``copyMessage``, ``copyMessages``,
``forwardMessage`` and ``forwardMessages``; a media group costs its number of
items. Every bucket starts full. A send of cost ``n`` is admitted when *every*
bucket it touches (overall + its chat's) holds at least ``min(n, capacity)``
tokens; then ``n`` is subtracted from each (a big album may leave a bucket
negative — a debt that must be refilled). Otherwise nothing is consumed,
nothing is delivered, and the answer is 429 with
``retry_after = max(1, ceil(max over buckets of deficit / refill_rate))``.

``Limits(strict=True)`` replaces every bucket by a **strict sliding window**
(Telegram publishes no algorithm; this is the least forgiving plausible one): at
most ``overall_per_s`` sends in any 1.0 s, ``chat_burst`` in any 1.0 s to one
private chat and ``group_per_min`` in any 60 s to one group; a bucket's refill
never lets a burst through on top of the rate. A send is admitted when every
window it touches has room for ``min(n, capacity)`` more; ``retry_after`` is
then the whole seconds until the oldest sends in the way leave their window.

``Limits(enforce=False)`` turns all of it off; :meth:`Limits.scaled` multiplies
every rate (a benchmark uses ×10). Buckets refill by a clock (``time.monotonic``
by default); a test gives a :class:`ManualClock` so what is refused does not
depend on how fast the machine sends.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

COUNTED_METHODS = frozenset(
    {"copymessage", "copymessages", "forwardmessage", "forwardmessages"}
)


def is_counted(method: str) -> bool:
    """Whether ``method`` (lower-case) spends flood-limit tokens."""
    return method.startswith("send") or method in COUNTED_METHODS


@dataclass(frozen=True)
class Limits:
    """Flood-limit parameters; see the module docstring for the exact model."""

    overall_per_s: float = 30.0
    chat_per_s: float = 1.0
    chat_burst: float = 3.0
    group_per_min: float = 20.0
    max_in_flight: int = 100
    enforce: bool = True
    #: Sliding windows instead of token buckets (see the module docstring).
    strict: bool = False

    def scaled(self, factor: float) -> Limits:
        """Every rate and capacity ×``factor`` (``max_in_flight`` too)."""
        return replace(
            self,
            overall_per_s=self.overall_per_s * factor,
            chat_per_s=self.chat_per_s * factor,
            chat_burst=self.chat_burst * factor,
            group_per_min=self.group_per_min * factor,
            max_in_flight=int(self.max_in_flight * factor),
        )


class ManualClock:
    """A clock that stands still until the test moves it: the buckets refill only on ``advance``."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


@dataclass
class TokenBucket:
    """A continuously refilled bucket; ``tokens`` may go negative after a big album."""

    capacity: float
    rate: float  # tokens per second
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(default=-1.0)
    stamp: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self.stamp = self.clock()

    def refill(self) -> None:
        """Add what has dripped in since the last look, up to capacity."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, cost: float) -> float:
        """Seconds until ``min(cost, capacity)`` tokens are there (0 if now)."""
        self.refill()
        need = min(cost, self.capacity)
        if self.tokens >= need:
            return 0.0
        return (need - self.tokens) / self.rate

    def spend(self, cost: float) -> None:
        """Take ``cost`` tokens (after :meth:`wait_for` said 0)."""
        self.tokens -= cost


@dataclass
class SlidingWindow:
    """At most ``capacity`` sends in any ``window`` seconds (the window is half-open)."""

    capacity: float
    window: float
    clock: Callable[[], float] = time.monotonic
    sent: deque[float] = field(default_factory=deque)

    def wait_for(self, cost: float) -> float:
        """Seconds until ``min(cost, capacity)`` more sends fit in the window (0 if now)."""
        now = self.clock()
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        need = int(min(cost, self.capacity))
        over = len(self.sent) + need - int(self.capacity)
        if over <= 0:
            return 0.0
        # The ``over`` oldest sends must leave the window first.
        return self.sent[over - 1] + self.window - now

    def spend(self, cost: float) -> None:
        """Record ``cost`` sends now."""
        self.sent.extend([self.clock()] * int(cost))


class SendLimiter:
    """All buckets of one fake bot: overall, per private chat, per group."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.overall = self._bucket(limits.overall_per_s, 1.0, limits.overall_per_s)
        self.chats: dict[int, TokenBucket | SlidingWindow] = {}

    def _bucket(self, capacity: float, window: float, rate: float) -> TokenBucket | SlidingWindow:
        if self.limits.strict:
            return SlidingWindow(capacity, window, self.clock)
        return TokenBucket(capacity, rate, self.clock)

    def _chat_bucket(self, chat_id: int, is_group: bool) -> TokenBucket | SlidingWindow:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            limits = self.limits
            if is_group:
                lim = limits.group_per_min
                bucket = self._bucket(lim, 60.0, lim / 60.0)
            else:
                bucket = self._bucket(limits.chat_burst, 1.0, limits.chat_per_s)
            self.chats[chat_id] = bucket
        return bucket

    def try_spend(self, chat_id: int, is_group: bool, cost: int = 1) -> int | None:
        """Spend ``cost`` tokens or return the retry_after (whole seconds ≥ 1) to answer."""
        if not self.limits.enforce:
            return None
        buckets = [self.overall, self._chat_bucket(chat_id, is_group)]
        wait = max(b.wait_for(cost) for b in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for b in buckets:
            b.spend(cost)
        return None
