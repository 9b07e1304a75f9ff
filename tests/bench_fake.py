"""The fake Bot API server in a child process, for the benchmark.

In one process the fake's own CPU would be billed to the bot (and on two cores it
would cap the bot's throughput), so the benchmark serves the fake from a child
process and drives it over a few extra control routes under ``/_bench/``:
reset with limits and an optional storm, create started users, read counters
(and which of the given chats got a message twice).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

import httpx
from aiohttp import web

from tests.fake_telegram import FakeTelegram, Limits


def _routes(fake: FakeTelegram) -> list[web.RouteDef]:
    async def reset(request: web.Request) -> web.Response:
        body = await request.json()
        fake.reset(Limits(**body["limits"]))
        if body.get("storm"):
            storm = dict(body["storm"])
            storm["retry_after"] = tuple(storm["retry_after"])
            fake.faults.start_storm(**storm)
        return web.json_response({"ok": True})

    async def users(request: web.Request) -> web.Response:
        body = await request.json()
        ids = []
        for i in range(int(body["n"])):
            user = fake.user(f"居民{i}", language_code=body.get("language_code", "zh-hans"))
            user.record.started = True
            ids.append(user.chat_id)
        return web.json_response({"ids": ids})

    async def stats(request: web.Request) -> web.Response:
        body = await request.json()
        chats = body.get("chat_ids") or []
        lost = sum(1 for c in chats if not fake.delivery_counts.get(c))
        doubled = fake.duplicate_details()
        s = fake.stats
        return web.json_response(
            {
                "delivered": s.delivered,
                "answered_429": s.answered_429,
                "answered_5xx": s.answered_5xx,
                "duplicates": fake.duplicates(),
                "duplicate_chats": [c for c in chats if c in doubled],
                "lost": lost,
                "delivery_rate": s.delivery_rate(),
            }
        )

    return [
        web.post("/_bench/reset", reset),
        web.post("/_bench/users", users),
        web.post("/_bench/stats", stats),
    ]


async def _serve() -> None:
    fake = FakeTelegram(limits=Limits(enforce=False))
    fake.app.add_routes(_routes(fake))
    fake.requests = _Discard()  # type: ignore[assignment]  (a benchmark keeps no log)
    await fake.start(port=0)
    print(json.dumps({"url": fake.url, "token": fake.token}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # EOF on stdin: the parent is done
    await fake.stop()


class _Discard(list[Any]):
    """A request log that forgets (it would grow by every request of every run)."""

    def append(self, item: Any) -> None:
        pass


class RemoteFake:
    """The parent's handle on the child: its URLs and the ``/_bench/`` routes."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, token: str) -> None:
        self._process = process
        self.url, self.token = url, token
        self._http = httpx.AsyncClient(base_url=url, timeout=120)

    @classmethod
    async def start(cls) -> RemoteFake:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench_fake",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        hello = json.loads(await process.stdout.readline())
        return cls(process, hello["url"], hello["token"])

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    async def reset(self, limits: Limits, storm: dict[str, Any] | None = None) -> None:
        body = {"limits": asdict(limits), "storm": storm}
        (await self._http.post("/_bench/reset", json=body)).raise_for_status()

    async def users(self, n: int) -> list[int]:
        response = await self._http.post("/_bench/users", json={"n": n})
        return list(response.json()["ids"])

    async def stats(self, chat_ids: list[int] | None = None) -> dict[str, Any]:
        response = await self._http.post("/_bench/stats", json={"chat_ids": chat_ids or []})
        return dict(response.json())

    async def close(self) -> None:
        await self._http.aclose()
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await self._process.wait()
        except TimeoutError:
            self._process.kill()
            await self._process.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
