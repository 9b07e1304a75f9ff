"""A minimal SOCKS5 proxy (no authentication, CONNECT only) that notes every Bot API
method passing through it: enough to see that the bot's calls all take the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from dataclasses import dataclass, field

METHOD = re.compile(rb"(?:GET|POST) /bot[^/\s]+/(\w+)")


@dataclass
class SocksProxy:
    methods: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"socks5://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0,
                                                  family=socket.AF_INET)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _version, count = await reader.readexactly(2)
            await reader.readexactly(count)
            writer.write(b"\x05\x00")  # no authentication
            _v, command, _r, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                raise ConnectionError("IPv6 is not needed here")
            port = int.from_bytes(await reader.readexactly(2), "big")
            if command != 1:
                raise ConnectionError("CONNECT only")
            up_reader, up_writer = await asyncio.open_connection(host, port)
            writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + b"\x00\x00")
            await asyncio.gather(self._pipe(reader, up_writer, sniff=True),
                                 self._pipe(up_reader, writer, sniff=False))
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    sniff: bool) -> None:
        try:
            while data := await reader.read(65536):
                if sniff:
                    self.methods.extend(m.decode() for m in METHOD.findall(data))
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
