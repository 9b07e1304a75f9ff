"""Injected failures: what a flaky or strict Telegram does to a well-behaved bot.

A fault rule matches a request by method (lower-case; ``None`` = any counted
send) and optionally by chat id, and fires for its next ``times`` matches.
Kinds:

* ``"429"`` — answer ``Too Many Requests: retry after N`` (nothing delivered);
* ``"5xx"`` — answer 500/502 (nothing delivered);
* ``"slow"`` — sleep ``delay`` seconds, then process normally;
* ``"drop"`` — close the connection without an answer (nothing delivered);
* ``"lost"`` — deliver, then lose the answer (drop the connection, or, with
  ``delay``, answer only after ``delay`` seconds — beyond the client's timeout),
  so a retrying client produces a duplicate the test can count.

A :class:`Storm` adds random 429s (retry_after uniform in ``[a, b]``), 5xx and
lost answers with given probabilities from a seeded RNG, so a benchmark run is
repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["429", "5xx", "slow", "drop", "lost"]


@dataclass
class FaultRule:
    """One armed fault; ``times`` counts down on every match."""

    kind: FaultKind
    times: int = 1
    method: str | None = None
    chat_id: int | None = None
    retry_after: int = 5
    status: int = 500
    delay: float = 0.0
    sends_only: bool = True

    def matches(self, method: str, chat_id: int | None, counted: bool) -> bool:
        """Whether this request is one the rule targets."""
        if self.times <= 0:
            return False
        if self.method is not None:
            if self.method.lower() != method:
                return False
        elif self.sends_only and not counted:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class Storm:
    """Random faults on counted sends: ``p429``, ``p5xx`` and ``plost`` per request.

    A lost answer is delivered first, so a retrying client can duplicate it. With
    ``lost_stall`` > 0, half of them (by the dice) are answered only after that many
    seconds (meant to exceed the client's read timeout); the others drop the connection.
    """

    p429: float = 0.0
    retry_after: tuple[int, int] = (1, 5)
    p5xx: float = 0.0
    seed: int = 0
    plost: float = 0.0
    lost_stall: float = 0.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def roll(self) -> FaultRule | None:
        """One throw of the dice for one send."""
        x = self.rng.random()
        if x < self.p429:
            return FaultRule("429", retry_after=self.rng.randint(*self.retry_after))
        if x < self.p429 + self.p5xx:
            return FaultRule("5xx", status=self.rng.choice((500, 502)))
        if x < self.p429 + self.p5xx + self.plost:
            stall = self.lost_stall > 0 and self.rng.random() < 0.5
            return FaultRule("lost", delay=self.lost_stall if stall else 0.0)
        return None


class Faults:
    """The armed rules plus an optional storm; consulted once per request."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.storm: Storm | None = None

    def clear(self) -> None:
        """Disarm everything (``FakeTelegram.reset`` calls this)."""
        self.rules.clear()
        self.storm = None

    def add(self, rule: FaultRule) -> FaultRule:
        """Arm a rule; returned so a test can look at ``times`` left."""
        self.rules.append(rule)
        return rule

    def flood(
        self,
        times: int = 1,
        retry_after: int = 5,
        chat_id: int | None = None,
        method: str | None = None,
    ) -> FaultRule:
        """The next ``times`` sends (optionally to one chat / of one method) get 429."""
        return self.add(FaultRule("429", times, method, chat_id, retry_after=retry_after))

    def server_error(
        self,
        times: int = 1,
        status: int = 500,
        chat_id: int | None = None,
        method: str | None = None,
    ) -> FaultRule:
        """The next ``times`` sends get a 500/502."""
        return self.add(FaultRule("5xx", times, method, chat_id, status=status))

    def slow(
        self,
        delay: float,
        times: int = 1,
        chat_id: int | None = None,
        method: str | None = None,
        sends_only: bool = True,
    ) -> FaultRule:
        """The next ``times`` matching requests are answered ``delay`` seconds late."""
        return self.add(
            FaultRule("slow", times, method, chat_id, delay=delay, sends_only=sends_only)
        )

    def drop(
        self, times: int = 1, chat_id: int | None = None, method: str | None = None
    ) -> FaultRule:
        """The next ``times`` sends lose their connection before anything happens."""
        return self.add(FaultRule("drop", times, method, chat_id))

    def lose_answer(
        self,
        times: int = 1,
        chat_id: int | None = None,
        method: str | None = None,
        delay: float = 0.0,
    ) -> FaultRule:
        """Deliver, then drop the connection (or answer after ``delay`` s)."""
        return self.add(FaultRule("lost", times, method, chat_id, delay=delay))

    def start_storm(
        self,
        p429: float = 0.0,
        retry_after: tuple[int, int] = (1, 5),
        p5xx: float = 0.0,
        seed: int = 0,
        plost: float = 0.0,
        lost_stall: float = 0.0,
    ) -> Storm:
        """Random 429s/5xx/lost answers on every counted send from now on."""
        self.storm = Storm(p429, retry_after, p5xx, seed, plost, lost_stall)
        return self.storm

    def pick(self, method: str, chat_id: int | None, counted: bool) -> FaultRule | None:
        """The fault this request suffers, consuming one use of the rule."""
        for rule in self.rules:
            if rule.matches(method, chat_id, counted):
                rule.times -= 1
                return rule
        if counted and self.storm is not None:
            return self.storm.roll()
        return None
