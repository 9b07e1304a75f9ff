"""What to do after a failed send: a pure function from the error to a decision.

Kept free of I/O and clocks (``now`` and the jitter source are arguments) so every
rule is a one-line parametrised test.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from broadcasts.sender import (
    Migrated,
    PermanentError,
    RetryAfter,
    TransientError,
    Unreachable,
)


class Action(enum.StrEnum):
    RETRY = "retry"
    FAIL = "fail"
    UNREACHABLE = "unreachable"
    MIGRATE = "migrate"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, for errors that count as attempts."""

    #: 1 + 2 + … + 256 s: about eight minutes of outage before a row fails.
    max_attempts: int = 10
    base_delay: float = 1.0
    max_delay: float = 600.0
    jitter: float = 0.25  # ± this fraction of the delay

    def backoff(self, attempts: int, rand: float) -> float:
        """Delay after the ``attempts``-th failed attempt; ``rand`` is uniform in [0, 1)."""
        delay = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return delay * (1 + self.jitter * (2 * rand - 1))


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    at: datetime | None = None  # when to retry (RETRY)
    #: False for flood waits and migrations: they say nothing about the message.
    counts_as_attempt: bool = True
    possible_duplicate: bool = False
    new_chat_id: int | None = None


def decide(
    error: BaseException,
    *,
    attempts: int,
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
    rand: Callable[[], float] = random.random,
) -> Decision:
    """Decide after the ``attempts``-th attempt (counting this one) failed with ``error``.

    Unknown exceptions (a bug in a sender) are retried like network errors, so a bug
    delays messages instead of silently dropping them, and still ends after the cap.
    """
    match error:
        case RetryAfter(seconds=seconds):
            # Never a loss and never counted: the platform told us exactly when.
            return Decision(
                Action.RETRY,
                error.reason,
                at=now + timedelta(seconds=seconds),
                counts_as_attempt=False,
            )
        case Migrated(new_chat_id=new_chat_id):
            return Decision(
                Action.MIGRATE, error.reason, counts_as_attempt=False, new_chat_id=new_chat_id
            )
        case Unreachable():
            return Decision(Action.UNREACHABLE, error.reason)
        case PermanentError():
            return Decision(Action.FAIL, error.reason)
        case TransientError(maybe_delivered=maybe):
            reason = error.reason
        case _:
            maybe, reason = False, f"{type(error).__name__}: {error}"
    if attempts >= policy.max_attempts:
        return Decision(
            Action.FAIL, f"gave up after {attempts} attempts: {reason}", possible_duplicate=maybe
        )
    delay = policy.backoff(attempts, rand())
    return Decision(
        Action.RETRY, reason, at=now + timedelta(seconds=delay), possible_duplicate=maybe
    )
