"""The printable sign of a post: a QR code of its sign-in deep link, the post's name under
it, on a page of A-series proportions (1 : √2), so it prints full-page on A4 or A5."""

from __future__ import annotations

import io
from pathlib import Path

#: Families with Chinese glyphs, looked for among the fonts matplotlib's font manager knows
#: (a font installed from PyPI and registered there with `fontManager.addfont`, or one
#: matplotlib found on the system): the exact names, and any family naming itself CJK.
CJK_FAMILIES = ("Noto Sans SC", "Noto Serif SC", "Source Han Sans SC", "Source Han Serif SC",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback",
                "PingFang SC", "Microsoft YaHei", "SimHei")
#: Fonts with Chinese glyphs, where Linux, macOS and Windows keep them. Without any (a bare
#: server), the name is drawn with a Latin font and Chinese shows as boxes.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
)
#: 1240 × 1754 px: A5 at 210 dpi, A4 at 150 dpi.
PAGE = (1240, 1754)


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start=post_{token}"


def font_path() -> str | None:
    """The one place the sign's font is looked up: a CJK font matplotlib's font manager
    knows (so a font package registered there is used, with no change here), else the
    first of the usual system files, else None (Pillow's Latin default). Not cached: a
    font registered after the first sign is found by the next."""
    return _registered_cjk_font() or next((p for p in CJK_FONTS if Path(p).is_file()), None)


def _registered_cjk_font() -> str | None:
    try:
        from matplotlib import font_manager
    except ImportError:
        return None
    return next((entry.fname for entry in font_manager.fontManager.ttflist
                 if entry.name in CJK_FAMILIES or "CJK" in entry.name), None)


def _font(size: int) -> object:
    from PIL import ImageFont

    path = font_path()
    if path is not None:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _centred(draw: object, text: str, y: int, size: int) -> None:
    font = _font(size)
    width = draw.textlength(text, font=font)  # type: ignore[attr-defined]
    while width > PAGE[0] - 80 and size > 24:  # a long name: shrink until it fits
        size -= 8
        font = _font(size)
        width = draw.textlength(text, font=font)  # type: ignore[attr-defined]
    draw.text(((PAGE[0] - width) / 2, y), text, fill="black", font=font)  # type: ignore[attr-defined]


def sign_png(link: str, *, name: str, heading: str, footer: str) -> bytes:
    """The sign: heading, the QR code (1,000 px, error correction H so a smudge still
    scans), the post's name in large letters, a one-line instruction."""
    import segno
    from PIL import Image, ImageDraw

    qr = io.BytesIO()
    segno.make(link, error="h").save(qr, kind="png", scale=20, border=2)
    qr.seek(0)
    code = Image.open(qr).convert("L").resize((1000, 1000), Image.Resampling.NEAREST)
    page = Image.new("L", PAGE, 255)
    page.paste(code, ((PAGE[0] - 1000) // 2, 230))
    draw = ImageDraw.Draw(page)
    _centred(draw, heading, 90, 80)
    _centred(draw, name, 1290, 120)
    _centred(draw, footer, 1500, 48)
    out = io.BytesIO()
    page.save(out, format="PNG", optimize=True)
    return out.getvalue()
