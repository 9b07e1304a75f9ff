"""One send budget for the whole bot: overall, per private chat, per group.

Telegram publishes no algorithm for its limits, so the budget is kept safe under the
strictest plausible one, a sliding window: never more than the limit in any one second
overall (any 60 s for a group), after an idle spell or not. The overall budget is a
log of granted slots: at most ``margin`` × the limit in any second, one more only a
whole interval after the second (so a send and the one a limit's worth later are never
closer than a second and an interval: room for jitter on the way), and no two closer
than three quarters of an interval at the full rate. So there is no burst to bunch up on
the wire, and a sender that woke late may still catch up a little. A private
chat is a GCRA token bucket (a "theoretical arrival time"); a group is a bucket and a
log of its last minute.

Taking a slot is pure arithmetic, so a reservation made now for a time in the future
needs no lock and waiters are served in the order they asked. The dispatcher asks
without waiting (``delays`` then ``reserve``) so it can choose another chat; direct
replies ``await acquire``, which reserves and sleeps.

A 429 pauses its chat only; 429s from several chats at once mean the overall rate is
too high, so the overall rate is cut (multiplicative decrease) and grows back
additively.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """The platform's limits (Telegram's by default; the fake server takes the same)."""

    overall_per_s: float = 30.0
    chat_per_s: float = 1.0
    chat_burst: int = 3
    group_per_min: float = 20.0
    #: Fraction of a chat's or group's burst we leave unused to absorb jitter.
    headroom: float = 0.2
    #: Fraction of the overall and group limits used in any window: steady pacing
    #: a little below the limit, so requests bunched by the network stay within it.
    margin: float = 0.97

    def scaled(self, factor: float) -> Limits:
        """The same limits ``factor`` times faster (benchmarks keep the ratios)."""
        return Limits(
            overall_per_s=self.overall_per_s * factor,
            chat_per_s=self.chat_per_s * factor,
            chat_burst=self.chat_burst,
            group_per_min=self.group_per_min * factor,
            headroom=self.headroom,
            margin=self.margin,
        )


class _Bucket:
    """GCRA: ``tat`` is when the bucket would be empty at the current pace."""

    __slots__ = ("interval", "tat", "tolerance")

    def __init__(self, rate: float, burst: float) -> None:
        self.tat = 0.0
        self.interval = 0.0
        self.tolerance = 0.0
        self.set_rate(rate, burst)

    def set_rate(self, rate: float, burst: float) -> None:
        self.interval = 1.0 / rate if rate > 0 and math.isfinite(rate) else 0.0
        self.tolerance = max(0.0, burst - 1) * self.interval

    def earliest(self, now: float) -> float:
        return max(now, self.tat - self.tolerance)

    def take(self, at: float) -> None:
        self.tat = max(self.tat, at) + self.interval


class _Window:
    """A log of granted slots: at most ``cap`` in any ``length`` seconds and ``cap + 1``
    in any ``length + room``, none closer than ``spacing``. Reservations may arrive out
    of order (a chat's limit puts one later than the next); counting every grant after
    ``x - length``, future ones too, keeps each window that holds ``x`` within ``cap``."""

    __slots__ = ("cap", "grants", "length", "room", "spacing")

    def __init__(self, cap: float, length: float, spacing: float = 0.0, room: float = 0.0
                 ) -> None:
        self.grants: list[float] = []
        self.length = length
        self.cap = cap
        self.spacing = spacing
        self.room = room

    def earliest(self, at: float) -> float:
        if len(self.grants) >= self.cap:
            at = max(at, self.grants[-int(self.cap)] + self.length)
            if self.room > 0 and len(self.grants) > self.cap:
                at = max(at, self.grants[-int(self.cap) - 1] + self.length + self.room)
        if self.spacing > 0:
            for grant in self.grants[bisect.bisect_left(self.grants, at - self.spacing):]:
                if at <= grant - self.spacing:
                    break
                at = max(at, grant + self.spacing)
        return at

    def take(self, at: float) -> None:
        if math.isfinite(self.cap):  # no limit: nothing to remember
            bisect.insort(self.grants, at)

    def move(self, slot: float, at: float) -> None:
        """The grant for ``slot`` was used at ``at`` instead."""
        i = bisect.bisect_left(self.grants, slot)
        if i < len(self.grants) and self.grants[i] == slot:
            del self.grants[i]
            bisect.insort(self.grants, at)

    def prune(self, now: float) -> None:
        horizon = now - max(self.length + self.room, self.spacing)
        drop = bisect.bisect_right(self.grants, horizon)
        if drop:
            del self.grants[:drop]


def _overall_window(rate: float, margin: float) -> _Window:
    if not math.isfinite(rate):
        return _Window(math.inf, 1.0)
    # Spacing at the full interval loses every late wake-up for good (0.82 of the limit
    # in the benchmark); at half of it the bunched catch-up drew 429s.
    cap = max(1.0, math.floor(rate * margin))
    return _Window(cap, 1.0, 0.75 / rate, room=1.0 / cap)


def _burst(capacity: float, headroom: float) -> float:
    if not math.isfinite(capacity):
        return 1.0  # no limit: the interval is zero anyway
    return max(1.0, math.floor(capacity * (1 - headroom)))


_IDLE = _Window(math.inf, 0.0)

#: A send that starts this much after its slot is moved in the overall log (`started`).
LATE_S = 0.001


class Limiter:
    """The shared budget; one per bot token, used by the dispatcher and direct replies."""

    #: 429s from this many chats within the window suggest a global limit …
    flood_chats = 3
    #: … provided they are at least this fraction of the sends in the window, counted
    #: over at least ``flood_sample`` sends (the window stretches at low rates): a few
    #: random 429s are the chats' own business, and a small sample is noise.
    flood_fraction = 0.3
    flood_sample = 40
    decrease = 0.5
    #: Recovery per second, as a fraction of the configured rate.
    recover_per_s = 0.1

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        *,
        start_spent: bool = False,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._rate = limits.overall_per_s
        self._overall = _overall_window(self._rate, limits.margin)
        if start_spent and math.isfinite(self._overall.cap):
            # After a restart Telegram still counts what the previous run sent a moment
            # ago: take the last second as spent at the steady rate.
            now, cap = clock(), int(self._overall.cap)
            self._overall.grants = [now - i / cap for i in reversed(range(cap))]
        self._chats: dict[int, _Bucket] = {}
        self._group_windows: dict[int, _Window] = {}
        self._blocked: dict[int, float] = {}
        self._floods: deque[tuple[float, int]] = deque()
        self._sends: deque[float] = deque()
        self._last_change = 0.0

    def set_overall(self, rate: float) -> None:
        """Make `rate` the configured overall rate: this process's share of the bot's
        budget when several processes send for one bot. A rate cut by a flood stays cut."""
        if rate == self.limits.overall_per_s:
            return
        cut = self._rate < self.limits.overall_per_s
        self.limits = dataclasses.replace(self.limits, overall_per_s=rate)
        self._set_rate(min(self._rate, rate) if cut else rate, self._clock())

    # -- asking -----------------------------------------------------------------

    @property
    def overall_rate(self) -> float:
        """The overall rate in force now (below the configured one after a flood)."""
        self._recover(self._clock())
        return self._rate

    def delays(self, chat_id: int, is_group: bool | None = None) -> tuple[float, float]:
        """Seconds until (the overall budget, this chat) would allow a send; nothing taken."""
        now = self._clock()
        self._recover(now)
        chat_at = self._chat_earliest(chat_id, is_group, now)
        return self._overall.earliest(now) - now, chat_at - now

    def reserve(self, chat_id: int | None, is_group: bool | None = None) -> float:
        """Take the earliest slot all buckets allow; return the seconds until it.

        ``chat_id=None`` (a channel by @username, say) takes from the overall budget only.
        """
        return self.reserve_slot(chat_id, is_group) - self._clock()

    def reserve_slot(self, chat_id: int | None, is_group: bool | None = None) -> float:
        """`reserve`, returning the slot's time on the limiter's clock (for `started`)."""
        now = self._clock()
        self._recover(now)
        # A chat's limits allow any time after their earliest, so the overall log,
        # which may only move a slot on, is asked last.
        at = now if chat_id is None else self._chat_earliest(chat_id, is_group, now)
        at = self._overall.earliest(at)
        if chat_id is not None:
            self._chat_bucket(chat_id, is_group).take(at)
            window = self._group_windows.get(chat_id)
            if window is not None:
                window.prune(now)
                window.take(at)
        self._overall.take(at)
        self._sends.append(at)
        self._prune(now)
        return at

    def started(self, slot: float) -> None:
        """The send reserved for ``slot`` goes out now. A busy loop may get to it late:
        the overall log then holds when it really went, so the sends a second later keep
        their distance from that, not from the slot."""
        now = self._clock()
        if now - slot > LATE_S:
            self._overall.move(slot, now)

    async def acquire(self, chat_id: int | None, is_group: bool | None = None) -> None:
        """Wait until a message to ``chat_id`` is within every limit (slot taken)."""
        slot = self.reserve_slot(chat_id, is_group)
        delay = slot - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
        self.started(slot)

    # -- learning ---------------------------------------------------------------

    def retry_after(self, chat_id: int, seconds: float) -> None:
        """The platform answered 429 for ``chat_id``: pause that chat; maybe slow down."""
        now = self._clock()
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), now + seconds)
        self._floods.append((now, chat_id))
        self._prune(now)
        chats = {c for _, c in self._floods}
        recent_sends = sum(1 for t in self._sends if t > now - self._window)
        if (
            len(chats) >= self.flood_chats
            and len(self._floods) >= self.flood_fraction * max(recent_sends, self.flood_sample)
            and now - self._last_change >= 1.0
        ):
            self._set_rate(max(1.0, self._rate * self.decrease), now)
            self._floods.clear()
            logger.warning(
                "429s from %d chats at once: overall rate lowered to %.1f/s",
                len(chats),
                self._rate,
                extra={"chats": len(chats), "rate": self._rate},
            )

    def blocked_for(self, chat_id: int) -> float:
        """Seconds this chat is still paused by a 429 (0 if not)."""
        return max(0.0, self._blocked.get(chat_id, 0.0) - self._clock())

    async def wait_unblocked(self, chat_id: int) -> None:
        """Wait out this chat's 429 pause, taking no slot.

        For calls the platform's message limits do not count (``pinChatMessage``): they
        must not spend the send budget, but a chat told to wait is left alone.
        """
        delay = self.blocked_for(chat_id)
        if delay > 0:
            await asyncio.sleep(delay)

    # -- internals --------------------------------------------------------------

    def _chat_earliest(self, chat_id: int, is_group: bool | None, at: float) -> float:
        """The earliest time from ``at`` this chat's own limits allow a send."""
        at = max(self._chat_bucket(chat_id, is_group).earliest(at),
                 self._blocked.get(chat_id, 0.0))
        window = self._group_windows.get(chat_id)
        return at if window is None else window.earliest(at)

    def _chat_bucket(self, chat_id: int, is_group: bool | None) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            limits = self.limits
            group = chat_id < 0 if is_group is None else is_group
            if group:
                rate = limits.group_per_min / 60
                bucket = _Bucket(rate, _burst(limits.group_per_min, limits.headroom))
                if math.isfinite(limits.group_per_min):
                    cap = max(1.0, math.floor(limits.group_per_min * limits.margin))
                    self._group_windows[chat_id] = _Window(cap, 60.0)
            else:
                bucket = _Bucket(limits.chat_per_s, _burst(limits.chat_burst, limits.headroom))
            self._chats[chat_id] = bucket
        return bucket

    def _set_rate(self, rate: float, now: float) -> None:
        self._rate = rate
        self._last_change = now
        grants = self._overall.grants
        self._overall = _overall_window(rate, self.limits.margin)
        self._overall.grants = grants

    @property
    def _window(self) -> float:
        """Seconds over which 429s are weighed: one, or long enough for a fair sample."""
        return max(1.0, self.flood_sample / self._rate)

    def _recover(self, now: float) -> None:
        target = self.limits.overall_per_s
        if self._rate >= target or now - self._last_change < 1.0:
            return
        gained = target * self.recover_per_s * (now - self._last_change)
        self._set_rate(min(target, self._rate + gained), now)

    def _prune(self, now: float) -> None:
        horizon = now - self._window
        while self._floods and self._floods[0][0] < horizon:
            self._floods.popleft()
        while self._sends and self._sends[0] < horizon:
            self._sends.popleft()
        self._overall.prune(now)
        if len(self._chats) > 10_000:
            # An idle bucket (tat in the past) behaves exactly like a new one.
            for window in self._group_windows.values():
                window.prune(now)
            self._chats = {c: b for c, b in self._chats.items()
                           if b.tat > now or self._group_windows.get(c, _IDLE).grants}
            self._group_windows = {c: w for c, w in self._group_windows.items() if w.grants}
            self._blocked = {c: t for c, t in self._blocked.items() if t > now}
