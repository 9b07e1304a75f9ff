"""Where people are in a conversation, and what the flows keep for them (`user_data`), held
in the database, so that any instance can take a person's next message (issue 15) and a
restart loses no one's place.

One table holds both: a person's `user_data` (name `USER_DATA`) and their state in each
named, persistent `ConversationHandler` (its name, the conversation key as JSON). Each row
carries the person's Telegram id, so what one update needs is one indexed read, and
forgetting a person is one delete.

- Written promptly: updates run one at a time, and `PersistingUpdateProcessor` writes what
  an update changed (through PTB's `Application.update_persistence`) before the next one is
  taken, so a state change is durable as soon as the bot has answered, not up to an interval
  later. Changes made outside updates (a conversation's timeout job) are written by PTB's own
  loop every `UPDATE_INTERVAL`. Only what changed is written: `user_data` equal to what was
  last read or written is skipped, an emptied one deletes its row.
- Read per update, only where instances share the database (`shared`): PTB calls
  `refresh_user_data` when it builds an update's context, and that one read also brings
  the person's conversation states up to date. The `TypeHandler` installed in `GROUP`
  makes sure the context is built before any ConversationHandler looks at the update. One
  instance alone never reads: its memory is exact.
- Values are pickled: the flows keep their own dataclasses (`Draft`s holding sets, enums,
  `AudienceSpec`), tuples and aware datetimes, which JSON would need a codec for each. Only
  this bot writes the table, from its own `user_data`, which holds no token and no live
  object (those are in `bot_data`, not stored); a row that no longer unpickles (a class
  renamed by an upgrade) is dropped as if the draft had expired.
- Some user_data must never reach the database (`memory_only`: who asked the scam check
  about what); those keys stay in this instance's memory, a refresh keeps them.
- Timeouts: a conversation restored from the table (after a restart, or taken over from
  another instance) has no timeout job here. Each row keeps its deadline (`expires_at`,
  from the conversation's `conversation_timeout`), and a restored conversation past it is
  ended before the person's next message is looked at. A conversation this instance
  handles has PTB's own timeout job, as before; where instances share the database, the
  job first checks that no other instance has taken a later step since
  (`InstanceSafeConversationHandler`).
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Awaitable, Iterable
from copy import deepcopy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, LargeBinary, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from telegram import Update
from telegram.ext import (
    Application,
    BasePersistence,
    ConversationHandler,
    PersistenceInput,
    SimpleUpdateProcessor,
    TypeHandler,
)
from telegram.ext._handlers.conversationhandler import PendingState

from bot.db import Base, UTCDateTime, transaction, utcnow
from broadcasts.store import dialect_insert

if TYPE_CHECKING:
    from bot.context import BotContext

logger = logging.getLogger(__name__)

Data = dict[Any, Any]
ConversationKey = tuple[int | str, ...]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]

#: The `name` of a row holding a person's `user_data` (conversations always have a name).
USER_DATA = ""
#: Seconds between PTB's writes of what changed outside updates (see the module docstring).
UPDATE_INTERVAL = 0.5
#: After the replay check (-100), before the shared drafts (-50) and the features.
GROUP = -60
#: Deadlines read back from the database may lose sub-millisecond precision.
SAME_DEADLINE = timedelta(milliseconds=1)


class PersistedState(Base):
    """A person's `user_data`, or their state in one named conversation."""

    __tablename__ = "persisted_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # JSON list
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)  # pickle
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _key_text(key: Iterable[int | str]) -> str:
    return json.dumps(list(key))


def _loads(row: PersistedState) -> Any:
    try:
        return pickle.loads(row.value)
    except Exception:
        logger.warning("A stored %s could not be read; dropped",
                       "user_data" if row.name == USER_DATA else "conversation state")
        return None


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    """PTB's persistence over `persisted_states`: user_data and conversations only
    (`bot_data` holds live objects; chat_data and callback_data are not used)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, shared: bool,
                 memory_only: frozenset[str] = frozenset(),
                 update_interval: float = UPDATE_INTERVAL) -> None:
        super().__init__(store_data=PersistenceInput(bot_data=False, chat_data=False,
                                                     user_data=True, callback_data=False),
                         update_interval=update_interval)
        self.session_factory = session_factory
        self.shared = shared
        self.memory_only = memory_only
        #: The persistent conversations by name (`register`).
        self.conversations: dict[str, ConversationHandler[Any]] = {}
        #: What the table holds for each person's user_data, as last read or written.
        self._saved: dict[int, Data] = {}
        #: Deadlines of conversations restored from the table, per person.
        self._deadlines: dict[int, dict[tuple[str, ConversationKey], datetime]] = {}

    def register(self, application: AnyApplication) -> None:
        """Know the application's persistent conversations. Their key must end with the
        person (per user, not per message): that is what a row is found and forgotten by."""
        for handlers in application.handlers.values():
            for handler in handlers:
                if isinstance(handler, ConversationHandler) and handler.persistent:
                    if not handler.per_user or handler.per_message or handler.name is None:
                        raise ValueError(f"conversation {handler.name!r}: a persistent "
                                         "conversation must be named, per user, not per message")
                    self.conversations[handler.name] = handler

    def _timeout(self, name: str) -> timedelta | None:
        handler = self.conversations.get(name)
        seconds = handler.conversation_timeout if handler is not None else None
        if isinstance(seconds, timedelta):
            return seconds
        return timedelta(seconds=seconds) if seconds else None

    # -- loading at start ----------------------------------------------------------------------

    async def get_user_data(self) -> dict[int, Data]:
        async with self.session_factory() as session:
            rows = await session.scalars(select(PersistedState)
                                         .where(PersistedState.name == USER_DATA))
            loaded = {row.telegram_id: _loads(row) for row in rows}
        self._saved = {user: data for user, data in loaded.items() if isinstance(data, dict)}
        return deepcopy(self._saved)

    async def get_conversations(self, name: str) -> dict[ConversationKey, object]:
        """The conversations of `name` still within their deadline."""
        now = utcnow()
        async with self.session_factory() as session:
            rows = list(await session.scalars(select(PersistedState)
                                              .where(PersistedState.name == name)))
        out: dict[ConversationKey, object] = {}
        for row in rows:
            state = _loads(row)
            if state is None or (row.expires_at is not None and row.expires_at <= now):
                continue
            key = tuple(json.loads(row.key))
            out[key] = state
            self._remember_deadline(row.telegram_id, name, key, row.expires_at)
        return out

    def _remember_deadline(self, telegram_id: int, name: str, key: ConversationKey,
                           deadline: datetime | None) -> None:
        mine = self._deadlines.setdefault(telegram_id, {})
        if deadline is None:
            mine.pop((name, key), None)
        else:
            mine[(name, key)] = deadline

    # -- writing -------------------------------------------------------------------------------

    async def _put(self, name: str, key: ConversationKey, telegram_id: int, value: object,
                   expires_at: datetime | None) -> None:
        async with transaction(self.session_factory) as session:
            values = {"name": name, "key": _key_text(key), "telegram_id": telegram_id,
                      "value": pickle.dumps(value), "expires_at": expires_at,
                      "updated_at": utcnow()}
            stmt = dialect_insert(session, PersistedState.__table__).values(**values)
            await session.execute(stmt.on_conflict_do_update(
                index_elements=["name", "key"],
                set_={column: stmt.excluded[column]
                      for column in ("telegram_id", "value", "expires_at", "updated_at")}))

    async def _remove(self, name: str, key: ConversationKey) -> None:
        async with transaction(self.session_factory) as session:
            await session.execute(delete(PersistedState).where(
                PersistedState.name == name, PersistedState.key == _key_text(key)))

    async def update_user_data(self, user_id: int, data: Data) -> None:
        data = {key: value for key, value in data.items() if key not in self.memory_only}
        if data == self._saved.get(user_id, {}):
            return
        if data:
            await self._put(USER_DATA, (user_id,), user_id, data, None)
            self._saved[user_id] = data
        else:
            await self._remove(USER_DATA, (user_id,))
            self._saved.pop(user_id, None)

    async def update_conversation(self, name: str, key: ConversationKey,
                                  new_state: object | None) -> None:
        person = int(key[-1])
        if new_state is None:
            await self._remove(name, key)
            self._remember_deadline(person, name, key, None)
            return
        timeout = self._timeout(name)
        deadline = utcnow() + timeout if timeout is not None else None
        await self._put(name, key, person, new_state, deadline)
        self._remember_deadline(person, name, key, deadline)

    async def drop_user_data(self, user_id: int) -> None:
        await self._remove(USER_DATA, (user_id,))
        self._saved.pop(user_id, None)

    # -- reading per update --------------------------------------------------------------------

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """With several instances: the person's user_data and conversation states as the
        table has them now (another instance may have taken their last message)."""
        if not self.shared:
            return
        async with self.session_factory() as session:
            rows = list(await session.scalars(select(PersistedState)
                                              .where(PersistedState.telegram_id == user_id)))
        stored: Data = {}
        states: dict[str, dict[ConversationKey, object]] = {}
        self._deadlines.pop(user_id, None)
        for row in rows:
            value = _loads(row)
            if row.name == USER_DATA:
                stored = value if isinstance(value, dict) else {}
            elif value is not None:
                key = tuple(json.loads(row.key))
                states.setdefault(row.name, {})[key] = value
                self._remember_deadline(user_id, row.name, key, row.expires_at)
        kept = {key: user_data[key] for key in self.memory_only if key in user_data}
        user_data.clear()
        user_data.update(stored)
        user_data.update(kept)
        self._saved[user_id] = deepcopy(stored)
        for name, handler in self.conversations.items():
            _replace_states(handler, user_id, states.get(name, {}))

    def expire_restored(self, user_id: int) -> None:
        """End the person's restored conversations past their deadline (they have no timeout
        job on this instance); a conversation with one is PTB's to time out."""
        now = utcnow()
        for (name, key), deadline in list(self._deadlines.get(user_id, {}).items()):
            handler = self.conversations.get(name)
            if handler is None or deadline > now:
                continue
            self._deadlines[user_id].pop((name, key), None)
            if key not in handler.timeout_jobs:
                _conversations(handler).pop(key, None)  # tracked: the row goes too

    async def moved_on_elsewhere(self, name: str, key: ConversationKey) -> bool:
        """With several instances: whether the conversation's row has changed since this
        instance last wrote or read it (another instance took the person's next step, which
        wrote a later deadline, or ended it, which removed the row)."""
        if not self.shared:
            return False
        mine = self._deadlines.get(int(key[-1]), {}).get((name, key))
        async with self.session_factory() as session:
            row = (await session.execute(select(PersistedState.expires_at).where(
                PersistedState.name == name, PersistedState.key == _key_text(key)))).first()
        if row is None:
            return True
        if mine is None or row.expires_at is None:
            return False  # nothing to compare: PTB's timeout as usual
        return abs(row.expires_at - mine) > SAME_DEADLINE

    def forget_in_memory(self, application: AnyApplication, user_id: int) -> None:
        """A forgotten person's user_data and conversations leave this instance's memory too
        (their rows are deleted with the rest of their data)."""
        application.drop_user_data(user_id)
        for handler in self.conversations.values():
            _replace_states(handler, user_id, {}, keep_pending=False)
        self._deadlines.pop(user_id, None)

    # -- not stored ----------------------------------------------------------------------------

    async def get_chat_data(self) -> dict[int, Data]:
        return {}

    async def get_bot_data(self) -> Data:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        return None

    async def update_bot_data(self, data: Data) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Data) -> None:
        return None

    async def flush(self) -> None:
        """Every write above is committed at once: nothing waits for the shutdown."""


def _conversations(handler: ConversationHandler[Any]) -> Any:
    """The handler's state per key. PTB (pinned <23) offers no public way to set a state, and
    conversations have no refresh hook; this is the dict its persistence loads into."""
    return handler._conversations


def _replace_states(handler: ConversationHandler[Any], user_id: int,
                    states: dict[ConversationKey, object], *, keep_pending: bool = True
                    ) -> None:
    """The person's states in `handler` become `states`, without marking them for a write
    (they are what the table holds). A state still pending here (a non-blocking step of
    this instance is running: the table has the state before it, and the outcome is written
    when it ends) is kept, so the conversation's WAITING handlers answer meanwhile."""
    conversations = _conversations(handler)
    pending = {k for k, v in conversations.items()
               if keep_pending and k and k[-1] == user_id and isinstance(v, PendingState)}
    for key in [k for k in conversations if k and k[-1] == user_id and k not in states]:
        if key not in pending:
            conversations.data.pop(key, None)
    conversations.update_no_track({k: v for k, v in states.items() if k not in pending})


class InstanceSafeConversationHandler(ConversationHandler[Any]):
    """A persistent conversation whose timeout job, with several instances, ends nothing the
    person has carried on with elsewhere. The job is this instance's, from the last step it
    handled; if another instance took a later step (or the end), the job's TIMEOUT handlers
    would otherwise tell the person "timed out", clear their draft, and write this
    instance's older user_data and the conversation's end over the newer rows."""

    async def _trigger_timeout(self, context: Any) -> None:  # PTB's job callback (pinned <23)
        job = context.job
        key = job.data.conversation_key
        persistence = job.data.application.persistence
        if (isinstance(persistence, DatabasePersistence) and self.name is not None
                and await persistence.moved_on_elsewhere(self.name, key)):
            async with self._timeout_jobs_lock:
                if self.timeout_jobs.get(key) is job:
                    del self.timeout_jobs[key]
            _conversations(self).data.pop(key, None)  # untracked: the table is right
            logger.info("A conversation's timeout was skipped: it went on at another instance")
            return
        await super()._trigger_timeout(context)


class PersistingUpdateProcessor(SimpleUpdateProcessor):
    """Updates one at a time, as PTB's default (ConversationHandler needs it); after each,
    what it changed is written before the next is taken (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(max_concurrent_updates=1)
        self.application: AnyApplication | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine
        if self.application is not None and self.application.persistence is not None:
            await self.application.update_persistence()


async def _before_conversations(update: Update, context: BotContext) -> None:
    """Building this update's context refreshed the person's states (`refresh_user_data`);
    here restored conversations past their deadline end."""
    persistence = context.application.persistence
    if isinstance(persistence, DatabasePersistence) and update.effective_user is not None:
        persistence.expire_restored(update.effective_user.id)


def install(application: AnyApplication) -> None:
    """After every handler is added: know the persistent conversations, and look at the
    person's states before the features do."""
    persistence = application.persistence
    if not isinstance(persistence, DatabasePersistence):
        return
    persistence.register(application)
    processor = application.update_processor
    if isinstance(processor, PersistingUpdateProcessor):
        processor.application = application
    application.add_handler(TypeHandler(Update, _before_conversations), group=GROUP)


def forget_in_memory(application: AnyApplication, telegram_ids: Iterable[int | None]) -> None:
    """Forgotten people's states leave this instance's memory (see `DatabasePersistence`)."""
    persistence = application.persistence
    if isinstance(persistence, DatabasePersistence):
        for telegram_id in telegram_ids:
            if telegram_id is not None:
                persistence.forget_in_memory(application, telegram_id)
