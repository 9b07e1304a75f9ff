"""The loop that turns pending delivery rows into sent messages.

Shape (after procrastinate's worker): claim a small batch of due rows into flight
under a lease, keep them in a local list ordered by priority, start each send when
the shared ``Limiter`` allows (overall budget, the chat's own budget, any 429 pause),
and record every outcome in one place, written back in batches by a flusher task.

- Only ``batch_size`` rows are claimed ahead of sending, so a new alert goes out
  within a fraction of a second even behind 100,000 tips; ``wake()`` claims it at
  once, ahead of lower-priority rows already held (held rows it pushes beyond a batch
  go back to the queue, so the next top-up brings the rest of the alert).
- One send at a time per chat keeps a chat's messages in order and lets a 429 for
  that chat pause only it; rows whose chat is paused for long go back to the queue.
- The loop sleeps until the limiter, a completion, ``wake()``, the next due row, the
  poll interval or ``stop()``: never a busy loop. With ``watch_others`` a broadcast
  another process commits wakes it too (``broadcasts.pickup``).
- Rows a crashed dispatcher held come back when their lease runs out, or at once when
  this dispatcher starts as the only sender (``sole_sender``).
- A row may start only once the database says it may be on the wire
  (``possible_duplicate`` set), so after a crash only those rows come back flagged. The
  marks ride on the flusher's writes (outcomes clear them, the same transaction marks
  the next rows the limiter will let go) and never exceed ``concurrency`` at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts import pickup, store
from broadcasts.content import OutgoingMessage, content_from_json, pick
from broadcasts.limits import Limiter
from broadcasts.models import DeliveryStatus, utcnow
from broadcasts.retry import Action, Decision, RetryPolicy, decide
from broadcasts.sender import RetryAfter, Sender, SendError
from broadcasts.split import split_message
from broadcasts.store import Claimed, Outcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SentEvent:
    """Handed to ``on_sent`` once the row is saved as sent."""

    delivery_id: int
    broadcast_id: int
    chat_id: int
    message_ids: list[int]


Callback = Callable[..., Awaitable[None] | None]


class Dispatcher:
    """Sends pending deliveries; one per bot process (several are safe, just wasteful)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        sender: Sender,
        limiter: Limiter,
        *,
        concurrency: int = 16,
        batch_size: int | None = None,
        lease: float = 60.0,
        poll_interval: float = 5.0,
        retry_policy: RetryPolicy | None = None,
        flush_interval: float = 0.05,
        flush_rows: int = 100,
        release_after: float = 2.0,
        hold_retries_up_to: float = 10.0,
        on_sent: Callable[[SentEvent], Awaitable[None] | None] | None = None,
        on_unreachable: Callable[[int, str], Awaitable[None] | None] | None = None,
        on_migrated: Callable[[int, int], Awaitable[None] | None] | None = None,
        sole_sender: bool = False,
        watch_others: bool = False,
    ) -> None:
        """
        ``concurrency`` caps requests on the wire; ``batch_size`` caps rows claimed but
        not yet sent (default: twice the concurrency). ``lease`` is how long a claimed
        row stays ours before another dispatcher may take it back. Rows whose chat is
        paused longer than ``release_after`` seconds return to the queue. A retry due
        within ``hold_retries_up_to`` seconds (a 429, a 5xx) stays in memory and, once
        due, goes ahead of younger rows: retries interleave with the broadcast instead
        of piling up behind it. ``sole_sender``: no other dispatcher can be alive (the
        single-instance lock, the leadership lock), so every row in flight at the start
        was left by a dead one and is taken back at once instead of after its lease.
        ``watch_others``: other processes write broadcasts too (the command line, other
        instances); pick them up at once rather than at the next poll.
        """
        self._factory = session_factory
        self._sender = sender
        self._limiter = limiter
        self._concurrency = concurrency
        self._batch = batch_size or max(2 * concurrency, 32)
        self._lease = timedelta(seconds=lease)
        self._poll = poll_interval
        self._policy = retry_policy or RetryPolicy()
        self._flush_interval = flush_interval
        self._flush_rows = flush_rows
        self._release_after = release_after
        self._hold = hold_retries_up_to
        self._on_sent = on_sent
        self._on_unreachable = on_unreachable
        self._on_migrated = on_migrated
        self._sole = sole_sender
        self._watch_others = watch_others

        self._ready: list[Claimed] = []  # claimed, not yet started; by priority
        self._waiting: list[tuple[float, Claimed]] = []  # held retries: (monotonic due, row)
        self._busy: set[int] = set()  # chats with a send under way
        self._sending: set[int] = set()  # rows with a send under way
        # Rows whose on-the-wire mark this dispatcher raised and no write has cleared yet
        # (at most ``concurrency``), and those of them whose mark is committed, not being
        # cleared: only these (and rows flagged already) may start.
        self._marked: dict[int, Claimed] = {}
        self._armed: set[int] = set()
        self._arm_wanted = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._messages: OrderedDict[int, dict[str, OutgoingMessage]] = OrderedDict()
        self._parts: dict[tuple[int, str], list[OutgoingMessage]] = {}

        self._kick = asyncio.Event()  # re-run the loop: wake, completion, flush
        self._has_outcomes = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._idle = asyncio.Event()
        self._claim_more = True
        self._db_empty = False
        self._urgent = False
        self._next_due: float | None = None  # monotonic time of the next due row
        self._next_sweep = 0.0
        self._stopping = False
        self._flushing = False
        self._db_empty = False
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    # -- control ------------------------------------------------------------------

    async def start(self) -> None:
        """Take back rows a crashed run left in flight, then start sending."""
        if self._loop_task is not None:
            raise RuntimeError("dispatcher already started")
        if self._sole:
            async with self._factory() as session, session.begin():
                taken = await store.release_in_flight(session, now=utcnow())
            if taken:
                logger.warning("took back deliveries a stopped sender held", extra={"rows": taken})
        else:
            await self._sweep(utcnow())
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name="broadcasts-dispatcher")
        self._flush_task = asyncio.create_task(self._flush_loop(), name="broadcasts-flusher")
        if self._watch_others:
            self._watch_task = asyncio.create_task(
                pickup.watch(self._factory.kw["bind"], self.wake), name="broadcasts-pickup")
        logger.info("dispatcher started", extra={"concurrency": self._concurrency})

    def wake(self) -> None:
        """New rows were committed: look now (an alert goes ahead of held rows)."""
        self._claim_more = True
        self._urgent = True
        self._db_empty = False
        self._idle.clear()
        self._kick.set()

    async def wait_idle(self) -> None:
        """Until nothing is pending or in flight anywhere (tests and benchmarks)."""
        await self._idle.wait()

    async def stop(self, drain: bool = True, drain_timeout: float = 30.0) -> None:
        """Stop claiming; let sends on the wire finish (``drain``) or cut them off.

        Rows claimed but not started go straight back to the queue, so a restart
        sends them without waiting for their lease. Everything is written before
        this returns.
        """
        if self._loop_task is None:
            return
        await self._stop_watching()
        self._stopping = True
        self._kick.set()
        await self._loop_task
        for row in self._ready:
            self._outcomes.append(_requeue(row, row.due))
        self._ready.clear()
        now, mono = utcnow(), time.monotonic()
        for due, row in self._waiting:
            at = now + timedelta(seconds=max(0.0, due - mono))
            self._outcomes.append(Outcome(row, DeliveryStatus.PENDING, next_attempt_at=at))
        self._waiting.clear()
        if self._tasks:
            if drain:
                _, late = await asyncio.wait(self._tasks, timeout=drain_timeout)
            else:
                late = set(self._tasks)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._has_outcomes.set()
        if self._flush_task is not None:
            await self._flush_task
        self._loop_task = self._flush_task = None
        logger.info("dispatcher stopped", extra={"drained": drain})

    async def kill(self) -> None:
        """Stop at once and write nothing, as a crash would (for tests of recovery)."""
        await self._stop_watching()
        tasks = [t for t in (self._loop_task, self._flush_task, *self._tasks) if t]
        self._flush_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        self._outcomes.clear()
        self._marked.clear()
        self._armed.clear()

    async def _stop_watching(self) -> None:
        task, self._watch_task = self._watch_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the loop -----------------------------------------------------------------

    async def _run(self) -> None:
        next_poll = 0.0
        while not self._stopping:
            self._kick.clear()
            mono = time.monotonic()
            if mono >= next_poll:
                self._claim_more, next_poll = True, mono + self._poll
            if self._next_due is not None and mono >= self._next_due:
                self._claim_more, self._next_due = True, None
            try:
                await self._claim_due()
            except Exception:
                logger.exception("claiming deliveries failed; retrying after the poll interval")
                self._claim_more = False
            self._release_held(time.monotonic())
            wait = self._launch()
            self._update_idle()
            timeouts = [next_poll - mono]
            if wait is not None:
                timeouts.append(wait)
            if self._next_due is not None:
                timeouts.append(self._next_due - time.monotonic())
            if self._waiting:
                timeouts.append(min(due for due, _ in self._waiting) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), max(0.0, min(timeouts)))

    async def _claim_due(self) -> None:
        """Top the held rows up to a batch; after a wake, first take what outranks them.

        The wake's flag is taken before claiming, so a wake that lands while a claim is
        under way (that claim may hold only older, lower rows) gets a claim of its own
        before anything is launched.
        """
        while True:
            urgent, self._urgent = self._urgent, False
            if urgent and self._ready:
                worst = max(r.priority for r in self._ready)
                await self._claim(self._batch, below_priority=worst)
            if self._claim_more and len(self._ready) <= self._batch // 2:
                await self._claim(self._batch - len(self._ready))
            if not self._urgent:
                return

    async def _claim(self, limit: int, below_priority: int | None = None) -> None:
        now = utcnow()
        async with self._factory() as session, session.begin():
            if time.monotonic() >= self._next_sweep:
                await self._sweep_in(session, now)
            rows = await store.claim(
                session,
                now=now,
                lease_until=now + self._lease,
                limit=limit,
                below_priority=below_priority,
            )
            missing = {r.broadcast_id for r in rows} - self._messages.keys()
            if missing:
                for bid, data in (await store.load_content(session, missing)).items():
                    self._messages[bid] = content_from_json(data)
            if below_priority is None and len(rows) < limit:
                # Nothing more due now: sleep until the next due row or foreign lease.
                self._claim_more = False
                due, lease = await store.next_wakeup(session)
                self._next_due = None
                if due is not None:
                    self._due_at(due, now)
                if lease is not None:
                    self._due_at(lease, now)
                    self._next_sweep = min(self._next_sweep, self._next_due or 0.0)
                self._db_empty = not rows and due is None and lease is None
        while len(self._messages) > 256:
            bid, _ = self._messages.popitem(last=False)
            for key in [k for k in self._parts if k[0] == bid]:
                del self._parts[key]
        if rows:
            self._db_empty = False
            self._ready.extend(rows)
            self._ready.sort(key=lambda r: r.order)
            self._idle.clear()
            # Outranked rows beyond a batch go back to the queue, so the held rows are
            # always the best batch and topping up brings the rest of an alert next.
            for row in self._ready[self._batch :]:
                self._outcomes.append(_requeue(row, row.due))
                self._has_outcomes.set()
            del self._ready[self._batch :]

    async def _sweep(self, now: datetime) -> None:
        async with self._factory() as session, session.begin():
            await self._sweep_in(session, now)

    async def _sweep_in(self, session: AsyncSession, now: datetime) -> None:
        reclaimed = await store.reclaim_expired(session, now=now)
        if reclaimed:
            logger.warning("reclaimed deliveries whose lease expired", extra={"rows": reclaimed})
        self._next_sweep = time.monotonic() + min(60.0, self._lease.total_seconds() / 2)

    def _due_at(self, at: datetime, now: datetime) -> None:
        mono = time.monotonic() + max(0.0, (at - now).total_seconds()) + 0.001
        if self._next_due is None or mono < self._next_due:
            self._next_due = mono

    def _launch(self) -> float | None:
        """Start every send the limits allow now; seconds until the next one could."""
        soonest: float | None = None
        released: dict[int, int] = defaultdict(int)
        while self._ready and len(self._tasks) < self._concurrency:
            picked = None
            for i, row in enumerate(self._ready):
                if row.chat_id in self._busy:
                    continue
                overall, chat = self._limiter.delays(row.chat_id)
                if overall > 0:
                    return overall if soonest is None else min(soonest, overall)
                if chat <= 0:
                    picked = i
                    break
                if chat > self._release_after:
                    # Paused for long (a 429, or many rows to one group): back to the queue.
                    spread = released[row.chat_id] / max(self._limiter.limits.chat_per_s, 1e-9)
                    released[row.chat_id] += 1
                    self._ready[i] = None  # type: ignore[call-overload]
                    at = utcnow() + timedelta(seconds=chat + spread)
                    self._outcomes.append(_requeue(row, at))
                    self._has_outcomes.set()
                else:
                    soonest = chat if soonest is None else min(soonest, chat)
            if released:
                self._ready = [r for r in self._ready if r is not None]
                if picked is not None:
                    continue  # indexes moved; scan again
            if picked is None:
                return soonest
            row = self._ready[picked]
            if not (row.possible_duplicate or row.id in self._armed):
                # Not marked on the wire yet: the flusher marks it now; order is kept.
                self._arm_wanted = True
                self._has_outcomes.set()
                self._flush_now.set()
                return soonest
            del self._ready[picked]
            slot = self._limiter.reserve_slot(row.chat_id)
            self._busy.add(row.chat_id)
            self._sending.add(row.id)
            task = asyncio.create_task(self._deliver(row, slot))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        return soonest

    def _release_held(self, mono: float) -> None:
        """Held retries that are due rejoin the ready rows, in their original order."""
        if not self._waiting or min(due for due, _ in self._waiting) > mono:
            return
        due_now = [row for due, row in self._waiting if due <= mono]
        self._waiting = [(due, row) for due, row in self._waiting if due > mono]
        for row in due_now:
            row.attempts += 1  # the attempt about to be made, as a claim would count it
        self._ready.extend(due_now)
        self._ready.sort(key=lambda r: r.order)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._kick.set()

    def _update_idle(self) -> None:
        if (
            not self._ready
            and not self._waiting
            and not self._tasks
            and not self._outcomes
            and not self._flushing
            and self._db_empty
        ):
            self._idle.set()

    # -- one delivery ---------------------------------------------------------------

    def _message_parts(self, row: Claimed) -> list[OutgoingMessage]:
        key = (row.broadcast_id, row.language)
        parts = self._parts.get(key)
        if parts is None:
            parts = split_message(pick(self._messages[row.broadcast_id], row.language))
            self._parts[key] = parts
        if any(p.has_placeholders for p in parts):
            parts = [p.fill(delivery_id=row.id, chat_id=row.chat_id) for p in parts]
        return parts

    async def _deliver(self, row: Claimed, slot: float) -> None:
        on_wire = False
        try:
            parts = self._message_parts(row)
            first = row.parts_sent
            for index in range(first, len(parts)):
                if index > first:
                    await self._limiter.acquire(row.chat_id)
                else:
                    self._limiter.started(slot)
                on_wire = True
                ids = await self._sender.send(row.chat_id, parts[index])
                on_wire = False
                row.message_ids.extend(ids)
                row.parts_sent = index + 1
            if parts[0].pin and row.message_ids:
                await self._pin(row)
            outcome = Outcome(row, DeliveryStatus.SENT, sent_at=utcnow())
        except asyncio.CancelledError:
            row.possible_duplicate |= on_wire
            self._record(_requeue(row, utcnow()))
            raise
        except Exception as exc:
            if not isinstance(exc, SendError):
                logger.exception("sender raised an unexpected error", extra={"delivery_id": row.id})
            decision = decide(exc, attempts=row.attempts, now=utcnow(), policy=self._policy)
            outcome = self._apply(row, decision, exc)
        finally:
            self._busy.discard(row.chat_id)
            self._sending.discard(row.id)
        if outcome is not None:
            self._record(outcome)

    async def _pin(self, row: Claimed) -> None:
        """Pin the first message; a refused pin does not undo the delivery.

        Telegram's flood limits count messages, not pins (the fake counts ``send*``,
        copies and forwards only), so a pin takes no slot from the overall or the
        group's budget: with a slot each, pinning 50 groups would cost 100 slots and
        double an alert's time to reach them. It still waits out a 429 pause of its
        chat; a 429 on the pin itself pauses the chat and the pin is tried once more.
        """
        for attempt in range(2):
            await self._limiter.wait_unblocked(row.chat_id)
            try:
                await self._sender.pin(row.chat_id, row.message_ids[0])
                return
            except RetryAfter as exc:
                self._limiter.retry_after(row.chat_id, exc.seconds)
                if attempt == 0 and exc.seconds <= self._release_after:
                    continue
                reason = exc.reason
            except SendError as exc:
                reason = exc.reason
            logger.warning("pinning failed", extra={"delivery_id": row.id, "error": reason})
            return

    def _apply(self, row: Claimed, decision: Decision, exc: BaseException) -> Outcome | None:
        """The outcome of a failed attempt, and what it teaches about the chat.

        ``None`` when a soon retry is held in memory instead of written back.
        """
        if not decision.counts_as_attempt:
            row.attempts -= 1
        row.possible_duplicate |= decision.possible_duplicate
        match decision.action:
            case Action.RETRY:
                if isinstance(exc, RetryAfter):
                    self._limiter.retry_after(row.chat_id, exc.seconds)
                assert decision.at is not None
                delay = (decision.at - utcnow()).total_seconds()
                if delay <= self._hold and not self._stopping:
                    self._log_retry(row, decision)
                    self._waiting.append((time.monotonic() + delay, row))
                    self._kick.set()
                    self._has_outcomes.set()  # the next write clears its on-the-wire mark
                    return None
                return Outcome(
                    row, DeliveryStatus.PENDING, error=decision.reason, next_attempt_at=decision.at
                )
            case Action.FAIL:
                return Outcome(row, DeliveryStatus.FAILED, error=decision.reason)
            case Action.UNREACHABLE:
                for other in self._take_ready(row.chat_id):
                    self._record(Outcome(other, DeliveryStatus.UNREACHABLE, error=decision.reason))
                return Outcome(
                    row, DeliveryStatus.UNREACHABLE, error=decision.reason, unreachable=True
                )
            case Action.MIGRATE:
                now = utcnow()
                for other in self._take_ready(row.chat_id):
                    self._outcomes.append(
                        Outcome(other, DeliveryStatus.PENDING, next_attempt_at=now)
                    )
                return Outcome(
                    row,
                    DeliveryStatus.PENDING,
                    error=decision.reason,
                    next_attempt_at=now,
                    new_chat_id=decision.new_chat_id,
                )
        raise AssertionError(decision)

    def _log_retry(self, row: Claimed, decision: Decision) -> None:
        """A held retry is an outcome too, logged like the ones ``_record`` writes."""
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "delivery %s: retry held",
                row.id,
                extra={
                    "delivery_id": row.id,
                    "broadcast_id": row.broadcast_id,
                    "outcome": "retry",
                    "attempts": row.attempts,
                    "error": decision.reason,
                    "retry_at": decision.at,
                },
            )

    def _take_ready(self, chat_id: int) -> list[Claimed]:
        """This chat's other rows we hold, their attempt counts as the database should see."""
        taken = [r for r in self._ready if r.chat_id == chat_id]
        for row in taken:
            row.attempts -= 1  # claimed, never tried
        held = [r for _, r in self._waiting if r.chat_id == chat_id]
        if taken:
            self._ready = [r for r in self._ready if r.chat_id != chat_id]
        if held:
            self._waiting = [(d, r) for d, r in self._waiting if r.chat_id != chat_id]
        return taken + held

    def _record(self, outcome: Outcome) -> None:
        """The one place an outcome is logged and queued for writing.

        Log lines name the delivery, never the chat: a chat id is a person's Telegram id,
        and some recipients (an anonymous reporter getting news of their report) must not
        appear in any log. The delivery row says where it went, for those allowed to look.
        """
        row = outcome.row
        level = logging.DEBUG if outcome.status is DeliveryStatus.SENT else logging.INFO
        if outcome.status is DeliveryStatus.FAILED:
            level = logging.WARNING
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "delivery %s: %s",
                row.id,
                outcome.status.value,
                extra={
                    "delivery_id": row.id,
                    "broadcast_id": row.broadcast_id,
                    "outcome": outcome.status.value,
                    "attempts": row.attempts,
                    "error": outcome.error,
                    "retry_at": outcome.next_attempt_at,
                    "new_chat_id": outcome.new_chat_id,
                    "possible_duplicate": row.possible_duplicate,
                },
            )
        self._outcomes.append(outcome)
        self._has_outcomes.set()
        if len(self._outcomes) >= self._flush_rows:
            self._flush_now.set()

    # -- writing outcomes ---------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            if not self._outcomes and not self._arm_wanted:
                if self._stopping and all(t.done() for t in self._tasks):
                    return
                await self._has_outcomes.wait()
            if (not self._stopping and len(self._outcomes) < self._flush_rows
                    and not self._arm_wanted):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flush_now.wait(), self._flush_interval)
            self._has_outcomes.clear()
            self._flush_now.clear()
            self._arm_wanted = False
            batch, self._outcomes = self._outcomes, []
            for outcome in batch:
                self._armed.discard(outcome.row.id)  # out of our hands once written
            self._flushing = True
            try:
                wrote = await self._write(batch)
            finally:
                self._flushing = False
            if not wrote:
                continue
            if batch and not (self._ready or self._tasks or self._outcomes):
                self._claim_more = True  # all settled: look again (retries, idleness)
            self._kick.set()

    def _plan_marks(self, settled: set[int]) -> tuple[list[Claimed], list[Claimed]]:
        """The rows to mark on the wire next, and marked ones to clear, for one write.

        Rows on the wire and outcomes not yet written keep their marks; ``settled`` (this
        write's outcomes) lose theirs with the outcome. What is left of ``concurrency``
        goes to the next rows in order that could start before the next write: as many
        as the overall rate allows meanwhile, one per chat. Marks of other held rows (a
        retry waiting in memory, a row an alert pushed back) are cleared.
        """
        pending = {o.row.id for o in self._outcomes}
        keep = {i for i in self._marked if i in self._sending or i in pending}
        wanted: list[Claimed] = []
        if not self._stopping:
            horizon = max(0.1, 2 * self._flush_interval)
            rate = self._limiter.overall_rate
            ahead = self._concurrency if math.isinf(rate) else math.ceil(rate * horizon) + 1
            room = min(ahead, self._concurrency - len(keep))
            chats = set(self._busy)
            for row in self._ready:
                if len(wanted) >= room:
                    break
                if row.possible_duplicate or row.chat_id in chats:
                    continue
                if self._limiter.delays(row.chat_id)[1] > horizon:
                    continue
                chats.add(row.chat_id)
                wanted.append(row)
        wanted_ids = {r.id for r in wanted}
        arm = [r for r in wanted if r.id not in self._armed]
        clear = [r for i, r in self._marked.items()
                 if i not in keep and i not in settled and i not in wanted_ids]
        return arm, clear

    async def _write(self, batch: list[Outcome]) -> bool:
        """Write the outcomes and move the on-the-wire marks; False if nothing to do."""
        now = utcnow()
        settled = {o.row.id for o in batch}
        while True:
            arm, clear = self._plan_marks(settled)
            if not (batch or arm or clear):
                return False
            for row in clear:
                self._armed.discard(row.id)  # before the write: it must not start meanwhile
            new = [r for r in arm if r.id not in self._marked]
            for row in new:
                self._marked[row.id] = row
            try:
                async with self._factory() as session, session.begin():
                    done = await store.write_outcomes(session, batch, now=now)
                    await store.mark_on_wire(session, (r.id for r in arm), True)
                    # A row that may have reached its chat (a timeout) stays flagged.
                    await store.mark_on_wire(
                        session, (r.id for r in clear if not r.possible_duplicate), False)
                break
            except Exception:
                for row in new:
                    self._marked.pop(row.id, None)
                logger.exception("writing delivery outcomes failed; retrying in 1 s")
                await asyncio.sleep(1.0)
        self._armed.update(r.id for r in arm)
        for delivery_id in settled | {r.id for r in clear}:
            self._marked.pop(delivery_id, None)
        for outcome in batch:
            if outcome.status is DeliveryStatus.PENDING and outcome.next_attempt_at:
                self._due_at(outcome.next_attempt_at, now)
        for bid in done:
            logger.info("broadcast done", extra={"broadcast_id": bid})
        await self._callbacks(batch)
        return True

    async def _callbacks(self, batch: list[Outcome]) -> None:
        for outcome in batch:
            row = outcome.row
            if outcome.status is DeliveryStatus.SENT and self._on_sent:
                event = SentEvent(row.id, row.broadcast_id, row.chat_id, list(row.message_ids))
                await _call(self._on_sent, event)
            elif outcome.unreachable and self._on_unreachable:
                await _call(self._on_unreachable, row.chat_id, outcome.error or "")
            elif outcome.new_chat_id is not None and self._on_migrated:
                await _call(self._on_migrated, row.chat_id, outcome.new_chat_id)


def _requeue(row: Claimed, at: datetime) -> Outcome:
    """Back to pending without counting an attempt (nothing was tried)."""
    row.attempts -= 1
    return Outcome(row, DeliveryStatus.PENDING, next_attempt_at=at)


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("dispatcher callback failed", extra={"callback": repr(callback)})
