"""A picture sent as a file in /report is measured from its header before any pixel is
decoded: one declaring a huge size (a decompression bomb) or a shape Telegram would not
show gets a clear refusal in the reporter's language, and nothing is added."""

from __future__ import annotations

import struct
import zlib

import pytest
from sqlalchemy import select

from bot.tipoffs.models import TipOffDraft
from tests.fake_telegram import FakeTelegram
from tests.tipoff_support import patrol_scene

TOO_LARGE = {
    "en": "Sorry, that picture is too large (or too long and thin) to pass on, so I did not add "
          "it. Please send it as a normal photo instead of as a file.",
    "zh-hans": "不好意思，这张图片尺寸太大（或者太细长），没法转交，没有加进去。"
               "请用普通“照片”方式发送，不要用“文件”。",
    "zh-hant": "不好意思，這張圖片尺寸太大（或者太細長），沒辦法轉交，沒有加進去。"
               "請用一般「照片」方式發送，不要用「檔案」。",
}


def _png(width: int, height: int) -> bytes:
    """A valid PNG of width x height black 1-bit pixels: a few KB on the wire, hundreds of
    MB once decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    row = bytes(1 + (width + 7) // 8)  # filter byte, then the packed bits
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("width", "height", "language"), [
    (12_000, 12_000, "en"),        # under Pillow's own bomb limit: decoded whole before
    (20_000, 20_000, "zh-hant"),   # over it: Image.open itself raises
    (40, 2_000, "zh-hans"),        # small, but 50 times taller than wide
])
async def test_a_picture_file_too_large_to_pass_on_is_refused_before_decoding(
    bot, fake: FakeTelegram, session_factory, width: int, height: int, language: str,
) -> None:
    await patrol_scene(fake, session_factory)
    alice = fake.user("Alice", language_code=language)
    await alice.send("/report")
    await alice.press(text=alice.last_message.buttons[0][0])
    await alice.send("楼下有人翻垃圾桶找快递单")
    picture = _png(width, height)
    assert len(picture) < 100_000
    await alice.send_document(picture, "IMG_0002.png")
    assert alice.last_message.text == TOO_LARGE[language]
    async with session_factory() as session:
        draft = await session.scalar(select(TipOffDraft))
    assert draft is not None and draft.photos == []
